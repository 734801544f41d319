--[[
  Records that an aggregated round's commit transaction is mined.
  KEYS[1] round hash
  KEYS[2] to-commit sorted set
  ARGV[1] tx hash
  ARGV[2] block number
  ARGV[3] member of the to-commit set, "task:round"
  Returns: 1 when this call marked it, 0 when it was already committed (idempotent on reconcile).
  Also clears the round's commitError in the same step, so no reader sees a committed round
  with the error of an earlier attempt.
]]
redis.call('ZREM', KEYS[2], ARGV[3])
if redis.call('HGET', KEYS[1], 'state') ~= 'aggregated' then return 0 end
redis.call('HSET', KEYS[1], 'state', 'committed', 'commitTx', ARGV[1], 'commitBlock', ARGV[2])
redis.call('HDEL', KEYS[1], 'commitError')
return 1
