-- Record a message's outcome and, for a scheduled message, move its channel's cursor on.
-- KEYS[1] enrollment hash   KEYS[2] its message records
-- ARGV[1] channel   ARGV[2] cursor the message was sent at ('-' for a resend: record only)
-- ARGV[3] record field   ARGV[4] packed record   ARGV[5] next cursor   ARGV[6] next due (ms, 0 = none)
-- ARGV[7] recent send history   ARGV[8] now (caredrip clock, s)   ARGV[9] retention (s)
-- A status callback may beat the result here (Twilio reports "delivered" before the send call
-- returns): a "sent" record then keeps the callback's final state and reason.
-- Returns 'recorded' | 'moved' | 'advanced' | 'completed'
local record = ARGV[4]
local before = redis.call('HGET', KEYS[2], ARGV[3])
if before and string.sub(record, 1, 1) == 'S' and string.find('duf', string.sub(before, 1, 1), 1, true) then
  local old, new = {}, {}
  for part in string.gmatch(before .. '|', '([^|]*)|') do old[#old + 1] = part end
  for part in string.gmatch(record .. '|', '([^|]*)|') do new[#new + 1] = part end
  new[1] = old[1]
  if (old[5] or '') ~= '' then new[5] = old[5] end
  record = table.concat(new, '|')
end
redis.call('HSET', KEYS[2], ARGV[3], record)
if ARGV[2] == '-' or redis.call('EXISTS', KEYS[1]) == 0 then
  return 'recorded'
end
local ch = ARGV[1]
if redis.call('HGET', KEYS[1], 'k:' .. ch) ~= ARGV[2] then
  return 'moved'
end
redis.call('HSET', KEYS[1], 'k:' .. ch, ARGV[5], 'd:' .. ch, ARGV[6], 'h:' .. ch, ARGV[7])
if ARGV[6] ~= '0' then
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
