--[[
  Ends a closing round as aggregated (new checkpoint becomes the task's) or failed (task keeps its base).
  KEYS[1] round hash
  KEYS[2] task hash
  KEYS[3] active-rounds set
  KEYS[4] to-commit sorted set (aggregated rounds the chain writer has yet to commit; score = round)
  ARGV[1] 'aggregated' | 'failed'
  ARGV[2] checkpoint hash (aggregated) or failure reason (failed)
  ARGV[3] closedAt ISO time
  ARGV[4] member of the active set, "task:round"
  ARGV[5] round number
  Returns: 1 when this call ended the round, 0 when it had already ended (idempotent on resume).
]]
if redis.call('HGET', KEYS[1], 'state') ~= 'closing' then return 0 end
redis.call('HSET', KEYS[1], 'state', ARGV[1], 'closedAt', ARGV[3])
if ARGV[1] == 'aggregated' then
  redis.call('HSET', KEYS[1], 'checkpointHash', ARGV[2])
  redis.call('HSET', KEYS[2], 'checkpointHash', ARGV[2])
  redis.call('ZADD', KEYS[4], tonumber(ARGV[5]), ARGV[4])
else
  redis.call('HSET', KEYS[1], 'failureReason', ARGV[2])
end
if tonumber(redis.call('HGET', KEYS[2], 'openRound') or '0') == tonumber(ARGV[5]) then
  redis.call('HSET', KEYS[2], 'openRound', 0)
end
redis.call('SREM', KEYS[3], ARGV[4])
return 1
