--[[
  Opens the next round of a task unless one is already open or closing.
  KEYS[1] task hash        (fields: lastRound, openRound, checkpointHash)
  KEYS[2] active-rounds set
  KEYS[3] the new round's hash (the caller names round lastRound + 1, as it read it)
  ARGV[1] the round number KEYS[3] is for
  ARGV[2] round config JSON (everything but the round number and base hash, which are decided here)
  ARGV[3] deadline, ms since epoch
  ARGV[4] maxClients
  ARGV[5] task id
  ARGV[6] secure rounds: the key phase's deadline, ms since epoch ('' for open rounds)
  Returns: {round number, base hash} on success; {0, open round number} when one is already running;
  {-1, lastRound} when lastRound moved since the caller read it (it reads again and retries).
  Why a script: reading lastRound, checking openRound and writing the new round must be one step,
  or two admins opening at once would create two rounds on the same base.
  Why the caller names the round's key: a script may touch only the keys it is given (Redis Cluster
  routes and checks a script by its KEYS), so the key cannot be built here from the new number.
]]
local open = tonumber(redis.call('HGET', KEYS[1], 'openRound') or '0')
if open ~= 0 then return {0, open} end
local last = tonumber(redis.call('HGET', KEYS[1], 'lastRound') or '0')
if last + 1 ~= tonumber(ARGV[1]) then return {-1, last} end
local r = redis.call('HINCRBY', KEYS[1], 'lastRound', 1)
local base = redis.call('HGET', KEYS[1], 'checkpointHash')
redis.call('HSET', KEYS[3], 'cfg', ARGV[2], 'baseHash', base, 'state', 'open', 'deadlineMs', ARGV[3], 'maxClients', ARGV[4], 'accepted', 0, 'rejected', 0)
-- A secure round starts in its key phase, set here so that no upload lands before the protocol runs.
if ARGV[6] ~= '' then redis.call('HSET', KEYS[3], 'securePhase', 'keys', 'securePhaseDeadlineMs', ARGV[6]) end
redis.call('HSET', KEYS[1], 'openRound', r)
redis.call('SADD', KEYS[2], ARGV[5] .. ':' .. r)
return {r, base}
