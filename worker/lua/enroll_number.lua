-- Note an enrollment of a recipient's number, unless it is noted already.
-- KEYS[1] the recipient's record (hash, by the number's blind index)
-- ARGV[1] field `e:<enrollment id>`   ARGV[2] clinic id   ARGV[3] the record's expiry (ms)
-- Returns 1 when the field is new (the expiry is then renewed), 0 when it was there (nothing changed).
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then
  return 0
end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
