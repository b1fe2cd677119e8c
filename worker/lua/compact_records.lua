-- Pack an ended enrollment's records into chunk fields of its enrollment hash and drop its
-- records hash (worker.store.packed), only if the enrollment has ended and nothing changed since
-- the caller read them.
-- KEYS[1] enrollment hash   KEYS[2] its message records
-- ARGV[1] sha1 of what was read: each field and value of KEYS[2] followed by '\n' (HGETALL
--   order), then the chunk fields '*0', '*1', ... of KEYS[1] joined
-- ARGV[2..] chunk field, chunk value, ... (every record as read, packed)
-- The enrollment hash keeps its expiry (the retention). Returns 1 (compacted) or 0 (not ended,
-- or changed since the read).
local st = redis.call('HGET', KEYS[1], 'st')
if st ~= 'completed' and st ~= 'canceled' then
  return 0
end
local parts = {}
for _, item in ipairs(redis.call('HGETALL', KEYS[2])) do
  parts[#parts + 1] = item .. '\n'
end
local old = {}
while true do
  local chunk = redis.call('HGET', KEYS[1], '*' .. #old)
  if not chunk then break end
  old[#old + 1] = chunk
end
if redis.sha1hex(table.concat(parts) .. table.concat(old)) ~= ARGV[1] then
  return 0
end
for i = 0, #old - 1 do
  redis.call('HDEL', KEYS[1], '*' .. i)
end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('DEL', KEYS[2])
return 1
