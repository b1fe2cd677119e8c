-- Take a message's "sending" state, atomically with the checks that may forbid it.
-- KEYS[1] enrollment hash   KEYS[2] its message records
-- ARGV[1] channel   ARGV[2] what the message is: '<cursor>' the lesson at that cursor,
--   'i<n>' the introduction to the enrollment's n-th number, '-' a resend (no cursor check)
-- ARGV[3] record field   ARGV[4] now (caredrip clock, s)
-- ARGV[5] age (s) after which an unfinished "sending" is stale
-- Returns 'ok:<attempt>' | 'gone' | 'inactive' | 'dropped' | 'moved' | 'opted_out' | 'intro'
--   | 'busy' | 'stale' | 'done:<record>'
-- ('dropped': the channel is no longer enrolled; 'moved': the cursor, or the introduction waiting,
-- is another; 'intro': the number must get its introduction before any other message; 'done':
-- the step already has a final record but the cursor was not moved on: the caller repairs)
-- A record left 'retrying' (or 'queued') that may not be sent now ends 'skipped' with the reason:
-- the enrollment's state ('paused': resume makes it due again), 'dropped', 'moved' or 'opted_out'.
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 'gone'
end
-- include: _expire_with_enrollment
local channel, expect, field, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local enr = redis.call('HMGET', KEYS[1], 'st', 'k:' .. channel, 'o:' .. channel, 'ch', 'i:' .. channel)
local rec = redis.call('HGET', KEYS[2], field)

local function refuse(status, reason)
  if rec and string.find('rq', string.sub(rec, 1, 1), 1, true) then
    local attempts = string.match(rec, '|(%d*)$') or ''
    redis.call('HSET', KEYS[2], field, 'k|' .. now .. '|||' .. reason .. '|' .. attempts)
    expire_with_enrollment(KEYS[2], KEYS[1])
  end
  return status
end

if enr[1] ~= 'active' and not (expect == '-' and enr[1] == 'completed') then
  return refuse('inactive', enr[1])
end
if not string.find(',' .. (enr[4] or '') .. ',', ',' .. channel .. ',', 1, true) then
  return refuse('dropped', 'dropped')
end
local waiting = enr[5] and string.match(enr[5], '^(%d+)|')
if string.sub(expect, 1, 1) == 'i' then
  if waiting ~= string.sub(expect, 2) then
    return refuse('moved', 'moved')
  end
elseif expect ~= '-' and enr[2] ~= expect then
  return refuse('moved', 'moved')
end
if enr[3] then
  return refuse('opted_out', 'opted_out')
end
if waiting and string.sub(field, 1, 6) ~= 'intro.' then
  return 'intro'
end
local attempts = 0
if rec then
  local code = string.sub(rec, 1, 1)
  attempts = tonumber(string.match(rec, '|(%d+)$')) or 0
  if code == 's' then
    local at = tonumber(string.match(rec, '^.|(%d+)')) or 0
    if tonumber(now) - at >= tonumber(ARGV[5]) then
      return 'stale'
    end
    return 'busy'
  end
  if code ~= 'r' and code ~= 'q' then
    return 'done:' .. rec
  end
end
redis.call('HSET', KEYS[2], field, 's|' .. now .. '||||' .. (attempts + 1))
if enr[1] ~= 'active' then
  expire_with_enrollment(KEYS[2], KEYS[1])
end
return 'ok:' .. (attempts + 1)
