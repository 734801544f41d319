--[[
  Opens the next round of a task unless one is already open or closing.
  KEYS[1] task hash        (fields: lastRound, openRound, checkpointHash)
  KEYS[2] active-rounds set
  ARGV[1] key prefix of round hashes, e.g. "fl:round:7:" (the round number is appended)
  ARGV[2] round config JSON (everything but the round number and base hash, which are decided here)
  ARGV[3] deadline, ms since epoch
  ARGV[4] maxClients
  ARGV[5] task id
  ARGV[6] secure rounds: the key phase's deadline, ms since epoch ('' for open rounds)
  Returns: {round number, base hash} on success; {0, open round number} when one is already running.
  Why a script: reading lastRound, checking openRound and writing the new round must be one step,
  or two admins opening at once would create two rounds on the same base.
]]
local open = tonumber(redis.call('HGET', KEYS[1], 'openRound') or '0')
if open ~= 0 then return {0, open} end
local r = redis.call('HINCRBY', KEYS[1], 'lastRound', 1)
local base = redis.call('HGET', KEYS[1], 'checkpointHash')
local key = ARGV[1] .. r
redis.call('HSET', key, 'cfg', ARGV[2], 'baseHash', base, 'state', 'open', 'deadlineMs', ARGV[3], 'maxClients', ARGV[4], 'accepted', 0, 'rejected', 0)
-- A secure round starts in its key phase, set here so that no upload lands before the protocol runs.
if ARGV[6] ~= '' then redis.call('HSET', key, 'securePhase', 'keys', 'securePhaseDeadlineMs', ARGV[6]) end
redis.call('HSET', KEYS[1], 'openRound', r)
redis.call('SADD', KEYS[2], ARGV[5] .. ':' .. r)
return {r, base}
