-- Claim up to ARGV[2] due entries: move them from the due index to the lease set.
-- KEYS[1] due index (score: due, caredrip clock ms)   KEYS[2] lease set (score: lease expiry, real ms)
-- ARGV[1] now (caredrip clock ms)   ARGV[2] limit   ARGV[3] lease length (real ms)
-- Returns a flat list: member, due score, member, due score, ...
local t = redis.call('TIME')
local expiry = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[3])
local items = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[2]))
if #items == 0 then
  return items
end
local leases, members = {}, {}
for i = 1, #items, 2 do
  leases[#leases + 1] = expiry
  leases[#leases + 1] = items[i]
  members[#members + 1] = items[i]
end
redis.call('ZADD', KEYS[2], unpack(leases))
redis.call('ZREM', KEYS[1], unpack(members))
return items
