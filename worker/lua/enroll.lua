-- Create an enrollment unless it exists. KEYS[1] enrollment hash; ARGV field, value, ...
-- Returns 1 when created, 0 when it already existed (nothing is changed then).
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
redis.call('HSET', KEYS[1], unpack(ARGV))
return 1
