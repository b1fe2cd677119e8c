-- Move one SMS opt-out from its plain number (stored before blind indexes) to the number's blind
-- index; where both exist, the earlier opt-out stays (the first opt-out's time is kept).
-- KEYS[1] cd:optout:sms   ARGV[1] the plain E.164 field   ARGV[2] its blind index
-- Returns 1 moved, 0 nothing to move (opted back in meanwhile, or moved by another process)
local plain = redis.call('HGET', KEYS[1], ARGV[1])
if not plain then return 0 end
local indexed = redis.call('HGET', KEYS[1], ARGV[2])
local function at(value) return tonumber(string.match(value, '^%d+') or '') or math.huge end
if not indexed or at(plain) < at(indexed) then
  redis.call('HSET', KEYS[1], ARGV[2], plain)
end
redis.call('HDEL', KEYS[1], ARGV[1])
return 1
