--[[
  Accepts one validated update into an open round, atomically.
  KEYS[1] round hash         (fields: state, deadlineMs, maxClients, accepted, securePhase)
  KEYS[2] accepted hash      (client -> accepted-update JSON)
  KEYS[3] work blob key      (the delta the worker took from the client's key)
  KEYS[4] accepted blob key  (where the delta is kept until aggregation)
  KEYS[5] async tasks: the task's placed-updates hash (trained-for round:sender -> buffer:job id)
  ARGV[1] client address (lowercase)
  ARGV[2] accepted-update JSON ('"arrival":-1' is replaced by the update's 0-based arrival index)
  ARGV[3] now, ms since epoch
  ARGV[4] async tasks: the placed-updates field ('' for sync rounds)
  ARGV[5] async tasks: the placed-updates value
  Returns: 'accepted' | 'closed' | 'late' | 'duplicate' | 'full' | 'missing'
  Why a script: the state check, the one-per-client check, the count and the blob move must happen
  together, or two workers could both accept a client's second update, or fold into a closing round.
]]
if redis.call('HGET', KEYS[1], 'state') ~= 'open' then return 'closed' end
-- A secure round takes uploads in its 'masked' phase only: the survivor list is read when it ends.
local phase = redis.call('HGET', KEYS[1], 'securePhase')
if phase and phase ~= 'masked' then return 'closed' end
if tonumber(ARGV[3]) > tonumber(redis.call('HGET', KEYS[1], 'deadlineMs')) then return 'late' end
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then return 'duplicate' end
if redis.call('HLEN', KEYS[2]) >= tonumber(redis.call('HGET', KEYS[1], 'maxClients')) then return 'full' end
-- An async update names the round it trained for: the same signed update never lands in two buffers.
if ARGV[4] ~= '' and redis.call('HEXISTS', KEYS[5], ARGV[4]) == 1 then return 'duplicate' end
if redis.call('EXISTS', KEYS[3]) == 0 then return 'missing' end
redis.call('RENAME', KEYS[3], KEYS[4])
local n = redis.call('HINCRBY', KEYS[1], 'accepted', 1)
-- The arrival index is the fold order of an async buffer, so it is fixed here, under the same lock as the count.
local record = string.gsub(ARGV[2], '"arrival":%-1', '"arrival":' .. (n - 1), 1)
redis.call('HSET', KEYS[2], ARGV[1], record)
if ARGV[4] ~= '' then redis.call('HSET', KEYS[5], ARGV[4], ARGV[5]) end
return 'accepted'
