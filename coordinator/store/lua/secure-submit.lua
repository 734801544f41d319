--[[
  Records one client's signed protocol message of a secure round, once, in the phase it belongs to.
  KEYS[1] round hash     (fields: state, securePhase)
  KEYS[2] messages hash  (client -> message JSON) of that phase
  ARGV[1] the phase the message belongs to ('keys' | 'shares' | 'consistency' | 'unmask')
  ARGV[2] client address (lowercase)
  ARGV[3] message JSON
  ARGV[4] most messages the phase takes (0: no limit)
  Returns: 'ok' | 'phase' (the round is not in that phase) | 'duplicate' | 'full'
  Why a script: the phase check and the write must be one step, or a message could land after the
  phase ended and its list was read (the next phase is computed from that list).
]]
if redis.call('HGET', KEYS[1], 'state') ~= 'open' or redis.call('HGET', KEYS[1], 'securePhase') ~= ARGV[1] then return 'phase' end
if redis.call('HEXISTS', KEYS[2], ARGV[2]) == 1 then return 'duplicate' end
local max = tonumber(ARGV[4])
if max > 0 and redis.call('HLEN', KEYS[2]) >= max then return 'full' end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
return 'ok'
