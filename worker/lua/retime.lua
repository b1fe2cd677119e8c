-- Move a channel's next due time, only while its cursor is still the one the time was computed
-- for: a send finishing meanwhile has moved the channel on, and its time stands.
-- KEYS[1] enrollment hash   ARGV[1] channel   ARGV[2] expected cursor   ARGV[3] next due (ms; 0 = none)
-- Returns 'ok' | 'moved:<cursor now>' | 'gone' (no such enrollment, or the channel has no cursor)
local cursor = redis.call('HGET', KEYS[1], 'k:' .. ARGV[1])
if not cursor then
  return 'gone'
end
if cursor ~= ARGV[2] then
  return 'moved:' .. cursor
end
redis.call('HSET', KEYS[1], 'd:' .. ARGV[1], ARGV[3])
return 'ok'
