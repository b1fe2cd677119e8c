-- GCRA reservation of ARGV[2] sends on one sender's limit, shared by every worker.
-- KEYS[1] the sender's theoretical arrival time (server clock, microseconds)
-- ARGV[1] microseconds between sends (1e6 / rate)   ARGV[2] how many sends to reserve
-- ARGV[3] burst tolerance (microseconds)   ARGV[4] (optional) the longest wait worth reserving for
-- Returns the microseconds to wait before sending the reserved messages (0 = send now), or -1 when
-- the wait would be longer than ARGV[4]: then nothing is reserved (a batch near its deadline).
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then
  tat = now
end
local new_tat = tat + interval * tonumber(ARGV[2])
local wait = tat - now - tonumber(ARGV[3])
if wait < 0 then
  wait = 0
end
if ARGV[4] and wait > tonumber(ARGV[4]) then
  return -1
end
redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', math.floor((new_tat - now) / 1000) + 1000)
return wait
