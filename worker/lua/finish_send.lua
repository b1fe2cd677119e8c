-- Record a message's outcome and, for a lesson, move its channel on.
-- KEYS[1] enrollment hash   KEYS[2] its message records
-- ARGV[1] channel   ARGV[2] what the message was: '<cursor>' the lesson sent at that cursor,
--   'i<n>' the introduction to the enrollment's n-th number, '-' a resend (record only)
-- ARGV[3] record field   ARGV[4] packed record   ARGV[5] next cursor   ARGV[6] next due (ms, 0 = none)
-- ARGV[7] recent send history   ARGV[8] now (caredrip clock, s)   ARGV[9] retention (s)
-- ARGV[10] what the next due time was computed from: the timezone, and '|<lt>' when the
--   enrollment has a catch-up mark 'lt' (its anchors changed or a pause ended; worker.catchup)
-- A status callback may beat the result here (Twilio reports "delivered" before the send call
-- returns): a "sent" record then keeps the callback's final state and reason.
-- A 'retrying' (or 'queued': put back unsent) record is only recorded, and only while its message
-- may still go: otherwise it ends 'skipped' with the reason (the enrollment's state, 'dropped' or
-- 'opted_out').
-- Returns 'recorded' | 'skipped' | 'moved' | 'advanced' | 'retimed:<timezone now>' | 'introduced'
--   | 'completed'
-- ('retimed': the timezone or the anchors changed while the message was out: the next due time was written as
-- computed, and is the caller's to compute again; 'introduced': the number's introduction is done)
-- include: _expire_with_enrollment
local record = ARGV[4]
local code = string.sub(record, 1, 1)
local ch = ARGV[1]
local before = redis.call('HGET', KEYS[2], ARGV[3])
if before and code == 'S' and string.find('duf', string.sub(before, 1, 1), 1, true) then
  local old, new = {}, {}
  for part in string.gmatch(before .. '|', '([^|]*)|') do old[#old + 1] = part end
  for part in string.gmatch(record .. '|', '([^|]*)|') do new[#new + 1] = part end
  new[1] = old[1]
  if (old[5] or '') ~= '' then new[5] = old[5] end
  record = table.concat(new, '|')
end
if code == 'r' or code == 'q' then
  local enr = redis.call('HMGET', KEYS[1], 'st', 'ch', 'o:' .. ch)
  local reason = nil
  if enr[1] and enr[1] ~= 'active' then
    reason = enr[1]
  elseif enr[1] and not string.find(',' .. (enr[2] or '') .. ',', ',' .. ch .. ',', 1, true) then
    reason = 'dropped'
  elseif enr[3] then
    reason = 'opted_out'
  end
  if reason then
    local attempts = string.match(record, '|(%d*)$') or ''
    redis.call('HSET', KEYS[2], ARGV[3], 'k|' .. ARGV[8] .. '|||' .. reason .. '|' .. attempts)
    expire_with_enrollment(KEYS[2], KEYS[1])
    return 'skipped'
  end
  redis.call('HSET', KEYS[2], ARGV[3], record)
  return 'recorded'
end
redis.call('HSET', KEYS[2], ARGV[3], record)
expire_with_enrollment(KEYS[2], KEYS[1])
if ARGV[2] == '-' or redis.call('EXISTS', KEYS[1]) == 0 then
  return 'recorded'
end
if string.sub(ARGV[2], 1, 1) == 'i' then
  local waiting = redis.call('HGET', KEYS[1], 'i:' .. ch)
  if not waiting or string.match(waiting, '^(%d+)|') ~= string.sub(ARGV[2], 2) then
    return 'recorded'
  end
  redis.call('HSET', KEYS[1], 'i:' .. ch, string.sub(ARGV[2], 2), 'h:' .. ch, ARGV[7])
  return 'introduced'
end
if redis.call('HGET', KEYS[1], 'k:' .. ch) ~= ARGV[2] then
  return 'moved'
end
redis.call('HSET', KEYS[1], 'k:' .. ch, ARGV[5], 'd:' .. ch, ARGV[6], 'h:' .. ch, ARGV[7])
if ARGV[6] ~= '0' then
  local basis = redis.call('HMGET', KEYS[1], 'tz', 'lt')
  local tz = basis[1] or ''
  if basis[2] then
    tz = tz .. '|' .. basis[2]
  end
  if tz ~= ARGV[10] then
    return 'retimed:' .. tz
  end
  return 'advanced'
end
local state = redis.call('HMGET', KEYS[1], 'st', 'ch')
if state[1] ~= 'active' then
  return 'advanced'
end
for other in string.gmatch(state[2] or '', '[^,]+') do
  if redis.call('HGET', KEYS[1], 'd:' .. other) ~= '0' then
    return 'advanced'
  end
end
redis.call('HSET', KEYS[1], 'st', 'completed', 'end', ARGV[8])
redis.call('EXPIRE', KEYS[1], ARGV[9])
redis.call('EXPIRE', KEYS[2], ARGV[9])
return 'completed'
