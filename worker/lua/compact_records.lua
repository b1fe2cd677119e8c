-- Replace an ended enrollment's records hash by its packed chunks (worker.store.packed), only if
-- the enrollment has ended and the hash is still exactly as the caller read it.
-- KEYS[1] enrollment hash   KEYS[2] its message records
-- ARGV[1] sha1 of the records hash as read: each field and value followed by '\n', HGETALL order
-- ARGV[2..] chunk field, chunk value, ... (every record as read, packed)
-- The key keeps its expiry (the retention). Returns 1 (compacted) or 0 (not ended, or changed).
local st = redis.call('HGET', KEYS[1], 'st')
if st ~= 'completed' and st ~= 'canceled' then
  return 0
end
local all = redis.call('HGETALL', KEYS[2])
local parts = {}
for i = 1, #all do
  parts[i] = all[i] .. '\n'
end
if redis.sha1hex(table.concat(parts)) ~= ARGV[1] then
  return 0
end
local ttl = redis.call('PTTL', KEYS[2])
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[2], unpack(ARGV, 2))
if ttl > 0 then
  redis.call('PEXPIRE', KEYS[2], ttl)
end
return 1
