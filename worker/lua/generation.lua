-- Move or expire the pointer to the latest generation of a (clinic, patient_ref, program).
-- KEYS[1] the pointer, cd:{e:<generation 0 id>}:gen (beside generation 0: enroll.lua reads it)
-- ARGV[1] 'started' | 'ended'   ARGV[2] generation   ARGV[3] retention (s)
-- started: the pointer moves up to ARGV[2] (never down) and keeps no expiry while it runs.
-- ended: if the pointer still names ARGV[2], it expires `retention` from now, as late as that
-- generation's own records or later, so it outlives every generation it points past.
-- Returns the generation the pointer names afterwards (0: none).
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local generation = tonumber(ARGV[2])
if ARGV[1] == 'started' then
  if generation > current then
    redis.call('SET', KEYS[1], generation)
    return generation
  end
  if generation == current then
    redis.call('PERSIST', KEYS[1])
  end
  return current
end
if generation == current and current > 0 then
  redis.call('EXPIRE', KEYS[1], ARGV[3])
end
return current
