-- Return expired leases to the due index, due now: their send task never finished.
-- KEYS[1] due index   KEYS[2] lease set   KEYS[3] lease tokens   ARGV[1] now (caredrip clock ms)
-- ARGV[2] limit
-- The claim's token goes with the lease: the late task, if it ever finishes, releases nothing.
-- Returns how many leases were returned.
local t = redis.call('TIME')
local real_now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', real_now, 'LIMIT', 0, tonumber(ARGV[2]))
for _, member in ipairs(expired) do
  redis.call('ZREM', KEYS[2], member)
  redis.call('HDEL', KEYS[3], member)
  redis.call('ZADD', KEYS[1], 'NX', ARGV[1], member)
end
return #expired
