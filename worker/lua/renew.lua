-- Renew one claim's leases (the send task's heartbeat): only entries this claim still holds.
-- KEYS[1] lease set (score: lease expiry, real ms)   KEYS[2] lease tokens (hash: id -> token)
-- ARGV[1] the claim's token   ARGV[2] the lease end the task last confirmed (real ms)
-- ARGV[3] lease length (real ms)   ARGV[4..] the claimed enrollment ids
-- Returns {new lease end (real ms), how many renewed}, or {-1, 0} when the confirmed end has
-- passed: an entry may have been reaped and handed out again, so nothing is renewed and the
-- task's deadline (earlier than that end) has passed too. An id released meanwhile (its send
-- finished), reaped or claimed again holds another token or none: it is left alone.
local t = redis.call('TIME')
local real_now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if real_now >= tonumber(ARGV[2]) then
  return {-1, 0}
end
local expiry = real_now + tonumber(ARGV[3])
local renewed = 0
for i = 4, #ARGV do
  if redis.call('HGET', KEYS[2], ARGV[i]) == ARGV[1] then
    redis.call('ZADD', KEYS[1], 'XX', expiry, ARGV[i])
    renewed = renewed + 1
  end
end
return {expiry, renewed}
