-- Reserve one message's place in a recipient's recent sends, if the caps allow one more now.
-- KEYS[1] the recipient's sends (zset: message id -> epoch ms)
-- ARGV[1] message id   ARGV[2] now (epoch ms)
-- ARGV[3] start of the recipient's local day (epoch ms)   ARGV[4] start of the next one (epoch ms)
-- ARGV[5] start of the 7 x 24 h window (epoch ms, exclusive)   ARGV[6] per day   ARGV[7] per week (0 = no cap)
-- ARGV[8] entries before this (epoch ms) are dropped   ARGV[9] the key's expiry (ms)
-- The counts are those of worker.schedule.cap_hit: the local day [ARGV[3], ARGV[4]), the week
-- (ARGV[5], now]. Sends are counted whatever their enrollment or clinic.
-- Returns {'new'} (reserved now) | {'had'} (this id already holds a place: nothing changed)
--       | {'held', <ms>, ...} (a cap is full: every send kept, for the caller's next allowed instant)
local key, mid = KEYS[1], ARGV[1]
redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. ARGV[8])
if redis.call('ZSCORE', key, mid) then
  return {'had'}
end
local per_day, per_week = tonumber(ARGV[6]), tonumber(ARGV[7])
local full = per_day > 0 and redis.call('ZCOUNT', key, ARGV[3], '(' .. ARGV[4]) >= per_day
if not full and per_week > 0 then
  full = redis.call('ZCOUNT', key, '(' .. ARGV[5], ARGV[2]) >= per_week
end
if full then
  local held, sends = {'held'}, redis.call('ZRANGE', key, 0, -1, 'WITHSCORES')
  for i = 2, #sends, 2 do
    held[#held + 1] = sends[i]
  end
  return held
end
redis.call('ZADD', key, ARGV[2], mid)
redis.call('PEXPIRE', key, ARGV[9])
return {'new'}
