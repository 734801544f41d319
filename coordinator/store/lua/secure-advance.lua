--[[
  Moves an open secure round from one protocol phase to the next.
  KEYS[1] round hash (fields: state, securePhase, securePhaseDeadlineMs, deadlineMs, secureThreshold)
  ARGV[1] the phase it must be in now
  ARGV[2] the next phase
  ARGV[3] the next phase's deadline, ms since epoch (also the round's deadlineMs, which uploads check)
  ARGV[4] the threshold to record ('' keeps it)
  Returns: 1 when moved, 0 when the round was not open in ARGV[1] (another replica moved it first).
]]
if redis.call('HGET', KEYS[1], 'state') ~= 'open' or redis.call('HGET', KEYS[1], 'securePhase') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'securePhase', ARGV[2], 'securePhaseDeadlineMs', ARGV[3], 'deadlineMs', ARGV[3])
if ARGV[4] ~= '' then redis.call('HSET', KEYS[1], 'secureThreshold', ARGV[4]) end
return 1
