--[[
  Moves an open round to 'closing' (no update is accepted after this), or confirms it is closing.
  KEYS[1] round hash
  Returns: the state after the call: 'closing' (go on and aggregate), or 'aggregated' / 'failed' (nothing to do).
]]
local s = redis.call('HGET', KEYS[1], 'state')
if s == 'open' then
  redis.call('HSET', KEYS[1], 'state', 'closing')
  return 'closing'
end
return s
