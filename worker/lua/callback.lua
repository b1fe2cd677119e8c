-- Apply a provider status callback to a message record, in any order, idempotently.
-- KEYS[1] message records   KEYS[2] the enrollment hash (its chunk fields '*0', '*1', ... hold
--   the records packed when it ended: worker.store.packed)
-- ARGV[1] record field   ARGV[2] new state code   ARGV[3] rank of that state
-- ARGV[4] reason (error code or '')   ARGV[5] now (s)
-- ARGV[6] (optional) the record as the packed chunks hold it, and ARGV[7] the sha1 of the
-- packed value it was read from: used only while KEYS[1] has no such record and the chunks still
-- hold that value. The result is a plain record in KEYS[1], which readers prefer to the packed
-- copy; KEYS[1] then expires with the enrollment.
-- A state of lower rank never overwrites a higher one: a late "sent" leaves "delivered".
-- Returns 'updated' | 'stale' | 'missing' | 'packed' (the record may be packed: read the chunks
-- and call again with ARGV[6] and ARGV[7]).
-- include: _expire_with_enrollment
local rec = redis.call('HGET', KEYS[1], ARGV[1])
if not rec then
  if redis.call('HEXISTS', KEYS[2], '*0') == 0 then
    return 'missing'
  end
  local chunks = {}
  while true do
    local chunk = redis.call('HGET', KEYS[2], '*' .. #chunks)
    if not chunk then break end
    chunks[#chunks + 1] = chunk
  end
  if (ARGV[7] or '') == '' or redis.sha1hex(table.concat(chunks)) ~= ARGV[7] then
    return 'packed'
  end
  rec = ARGV[6]
end
local fields = {}
for part in string.gmatch(rec .. '|', '([^|]*)|') do
  fields[#fields + 1] = part
end
local ranks = { q = 0, r = 0, k = 0, s = 1, x = 1, S = 2, d = 3, u = 3, f = 3 }
if (ranks[fields[1]] or 0) >= tonumber(ARGV[3]) then
  return 'stale'
end
fields[1] = ARGV[2]
if ARGV[4] ~= '' then
  fields[5] = ARGV[4]
end
redis.call('HSET', KEYS[1], ARGV[1], table.concat(fields, '|'))
expire_with_enrollment(KEYS[1], KEYS[2])
return 'updated'
