-- Claim due clinic-event deliveries (worker.store.webhooks), after returning expired leases.
-- KEYS[1] due set (score: due, caredrip clock ms)   KEYS[2] lease set (score: lease expiry, Redis time ms)
-- ARGV[1] now (caredrip clock ms)   ARGV[2] most to claim   ARGV[3] lease length (real ms)
-- ARGV[4] most claimed at once: no claim beyond it (deliveries waiting on a slow endpoint)
-- Returns the claimed members (`<kind>:<event id>`), oldest due first.
local t = redis.call('TIME')
local real_now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', real_now, 'LIMIT', 0, 1000)
for _, member in ipairs(expired) do
  redis.call('ZREM', KEYS[2], member)
  redis.call('ZADD', KEYS[1], 'NX', ARGV[1], member)
end
local room = tonumber(ARGV[4]) - redis.call('ZCARD', KEYS[2])
local limit = math.min(tonumber(ARGV[2]), room)
if limit <= 0 then
  return {}
end
local items = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, limit)
if #items == 0 then
  return items
end
local leases = {}
for _, member in ipairs(items) do
  leases[#leases + 1] = real_now + tonumber(ARGV[3])
  leases[#leases + 1] = member
end
redis.call('ZADD', KEYS[2], unpack(leases))
redis.call('ZREM', KEYS[1], unpack(items))
return items
