--[[
  Appends identity commitments to a private task's members list, skipping ones already admitted.
  KEYS[1] members list   (commitments in admission order: the leaf order of the members tree)
  KEYS[2] members set    (the same commitments, for the duplicate check)
  ARGV[1..n] commitments (canonical decimal strings, validated by the caller)
  ARGV[n+1] the most members a task may hold
  Returns: {admitted, total} (admitted = how many were new)
  Why a script: the duplicate check and the append must be one step, or two admissions racing
  could put one commitment in the tree twice; and the list order must be the order of success.
]]
local max = tonumber(ARGV[#ARGV])
local total = redis.call('LLEN', KEYS[1])
local admitted = 0
for i = 1, #ARGV - 1 do
  if total >= max then return redis.error_reply('MEMBERS_FULL') end
  if redis.call('SADD', KEYS[2], ARGV[i]) == 1 then
    redis.call('RPUSH', KEYS[1], ARGV[i])
    total = total + 1
    admitted = admitted + 1
  end
end
return {admitted, total}
