--[[
  Records why an update was refused, once per job.
  KEYS[1] round hash       (field: rejected, a counter)
  KEYS[2] rejections hash  (job id -> rejection JSON)
  KEYS[3] work blob key    (deleted: a refused delta is not kept)
  ARGV[1] job id
  ARGV[2] rejection JSON
  Returns: 1 when recorded now, 0 when this job's rejection was already recorded (a retry).
]]
redis.call('DEL', KEYS[3])
if redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[2]) == 1 then
  redis.call('HINCRBY', KEYS[1], 'rejected', 1)
  return 1
end
return 0
