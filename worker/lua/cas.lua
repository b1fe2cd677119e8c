-- Compare-and-set on one hash: write only while the fields the caller read are as it read them
-- (re-sealing a record's token never loses a concurrent change: the caller re-reads and retries).
-- KEYS[1] the hash (an enrollment, a reply)
-- ARGV[1] n, then n pairs (field, value read; "" = absent) that must still hold
-- ARGV[2n+2] m, then m pairs (field, value) to set; every argument after them: fields to delete
-- Returns 1 written, 0 a compared field changed (nothing written), -1 no such hash (nothing written)
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local n = tonumber(ARGV[1])
for i = 2, 2 * n, 2 do
  if (redis.call('HGET', KEYS[1], ARGV[i]) or '') ~= ARGV[i + 1] then return 0 end
end
local at = 2 * n + 2
local m = tonumber(ARGV[at])
if m > 0 then
  redis.call('HSET', KEYS[1], unpack(ARGV, at + 1, at + 2 * m))
end
if #ARGV > at + 2 * m then
  redis.call('HDEL', KEYS[1], unpack(ARGV, at + 2 * m + 1, #ARGV))
end
return 1
