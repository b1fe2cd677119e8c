-- Apply a provider status callback to a message record, in any order, idempotently.
-- KEYS[1] message records   ARGV[1] record field   ARGV[2] new state code   ARGV[3] rank of that state
-- ARGV[4] reason (error code or '')   ARGV[5] now (s)
-- A state of lower rank never overwrites a higher one: a late "sent" leaves "delivered".
-- Returns 'updated' | 'stale' | 'missing'.
local rec = redis.call('HGET', KEYS[1], ARGV[1])
if not rec then
  return 'missing'
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
return 'updated'
