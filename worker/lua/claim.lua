-- Claim up to ARGV[2] due entries: move them from the due index to the lease set, under one token.
-- KEYS[1] due index (score: due, caredrip clock ms)   KEYS[2] lease set (score: lease expiry, real ms)
-- KEYS[3] lease tokens (hash: id -> token of the claim holding it)
-- ARGV[1] now (caredrip clock ms)   ARGV[2] limit   ARGV[3] lease length (real ms)
-- ARGV[4] the random part of the claim's token
-- Returns {} when nothing is due, else a flat list: token, member, due score, member, due score, ...
-- The token is '<lease expiry, real ms>-<lease length, ms>-<ARGV[4]>': the send task carries it,
-- so it knows its deadline, and only it may release the entries (a newer claim of an id replaces
-- the token).
local t = redis.call('TIME')
local expiry = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[3])
local items = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[2]))
if #items == 0 then
  return items
end
local token = string.format('%d', expiry) .. '-' .. ARGV[3] .. '-' .. ARGV[4]
local leases, members, tokens = {}, {}, {}
for i = 1, #items, 2 do
  leases[#leases + 1] = expiry
  leases[#leases + 1] = items[i]
  members[#members + 1] = items[i]
  tokens[#tokens + 1] = items[i]
  tokens[#tokens + 1] = token
end
redis.call('ZADD', KEYS[2], unpack(leases))
redis.call('ZREM', KEYS[1], unpack(members))
redis.call('HSET', KEYS[3], unpack(tokens))
table.insert(items, 1, token)
return items
