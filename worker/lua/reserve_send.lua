-- Reserve one message's place in a recipient's recent sends, if the caps allow one more now.
-- KEYS[1] the recipient's record (hash; each recent send a field `h:<tag of its message id>` = epoch ms)
-- KEYS[2] its parked sends (hash `<tag>` = epoch ms): the record's sends moved out when a program of
--         the number ended (park_sends.lua), in a key that expires 8 days after; counted the same
-- ARGV[1] this message's field `h:<tag>`   ARGV[2] now (epoch ms)
-- ARGV[3] start of the recipient's local day (epoch ms)   ARGV[4] start of the next one (epoch ms)
-- ARGV[5] start of the 7 x 24 h window (epoch ms, exclusive)   ARGV[6] per day   ARGV[7] per week (0 = no cap)
-- ARGV[8] sends before this (epoch ms) are dropped   ARGV[9] the record's expiry (ms), renewed on a reservation
-- The counts are those of worker.schedule.cap_hit: the local day [ARGV[3], ARGV[4]), the week
-- (ARGV[5], now]. Sends are counted whatever their enrollment or clinic.
-- Returns {'new'} (reserved now) | {'had'} (this message already holds a place: nothing changed)
--       | {'held', <ms>, ...} (a cap is full: the recipient's recent sends, for its next allowed instant)
local key, field, now = KEYS[1], ARGV[1], tonumber(ARGV[2])
local day_start, day_end, week_start = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local keep_from = tonumber(ARGV[8])
local sends, day, week, had = {}, 0, 0, false
local function count(source, name, value, prefix)
  local at = tonumber(value) or 0
  if at < keep_from then
    redis.call('HDEL', source, name)
    return
  end
  if prefix .. name == field then
    had = true
  end
  sends[#sends + 1] = value
  if at >= day_start and at < day_end then
    day = day + 1
  end
  if at > week_start and at <= now then
    week = week + 1
  end
end
local record = redis.call('HGETALL', key)
for i = 1, #record, 2 do
  if string.sub(record[i], 1, 2) == 'h:' then
    count(key, record[i], record[i + 1], '')
  end
end
local parked = redis.call('HGETALL', KEYS[2])
for i = 1, #parked, 2 do
  count(KEYS[2], parked[i], parked[i + 1], 'h:')
end
if had then
  return {'had'}
end
local per_day, per_week = tonumber(ARGV[6]), tonumber(ARGV[7])
if (per_day > 0 and day >= per_day) or (per_week > 0 and week >= per_week) then
  local held = {'held'}
  for _, at in ipairs(sends) do
    held[#held + 1] = at
  end
  return held
end
redis.call('HSET', key, field, ARGV[2])
redis.call('PEXPIRE', key, ARGV[9])
return {'new'}
