-- One clinic's erasure of a patient: the number no longer names that clinic's enrollments.
-- KEYS[1] the recipient's record (hash, by the number's blind index)   KEYS[2] its recent sends
-- ARGV[1] clinic id   ARGV[2..] fields `e:<enrollment id>` of that clinic's enrollments
-- Removes those fields and `last` when it names the clinic; then, when no enrollment is noted and
-- no latest message remains (no other clinic has the number), the whole record with its sends.
-- Returns {fields removed, 1 if the record went else 0}.
if redis.call('EXISTS', KEYS[1]) == 0 then
  return {0, 0}
end
local removed = 0
if #ARGV > 1 then
  removed = redis.call('HDEL', KEYS[1], unpack(ARGV, 2))
end
local last = redis.call('HGET', KEYS[1], 'last')
if last and string.sub(last, 1, #ARGV[1] + 1) == ARGV[1] .. '|' then
  removed = removed + redis.call('HDEL', KEYS[1], 'last')
  last = nil
end
if last then
  return {removed, 0}
end
local fields = redis.call('HKEYS', KEYS[1])
for _, f in ipairs(fields) do
  if string.sub(f, 1, 2) == 'e:' then
    return {removed, 0}
  end
end
redis.call('DEL', KEYS[1], KEYS[2])
return {removed, 1}
