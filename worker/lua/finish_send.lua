-- Record a message's outcome and, for a scheduled message, move its channel's cursor on.
-- KEYS[1] enrollment hash   KEYS[2] its message records
-- ARGV[1] channel   ARGV[2] cursor the message was sent at ('-' for a resend: record only)
-- ARGV[3] record field   ARGV[4] packed record   ARGV[5] next cursor   ARGV[6] next due (ms, 0 = none)
-- ARGV[7] recent send history   ARGV[8] now (caredrip clock, s)   ARGV[9] retention (s)
-- Returns 'recorded' | 'moved' | 'advanced' | 'completed'
redis.call('HSET', KEYS[2], ARGV[3], ARGV[4])
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
