-- Take an enrollment out of the patient resumes once it resumed, unless a PAUSE moved it on.
-- KEYS[1] the patient resumes (zset: enrollment id -> resume time, epoch ms)
-- ARGV[1] enrollment id   ARGV[2] the resume time it was read with (epoch ms)
-- Returns 1 when taken out, 0 when it holds another time (or is gone).
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if score and tonumber(score) == tonumber(ARGV[2]) then
  return redis.call('ZREM', KEYS[1], ARGV[1])
end
return 0
