-- Create an enrollment unless it exists, or unless a later generation of it does.
-- KEYS[1] enrollment hash   KEYS[2] (generation 0 only) its generation pointer, cd:{e:<id>}:gen
-- ARGV field, value, ...
-- Returns 'created'; '<state>' when the hash exists (nothing is changed then); or 'gen:<n>' when
-- the pointer names a later generation n of this (clinic, patient_ref, program): look there.
if KEYS[2] then
  local latest = redis.call('GET', KEYS[2])
  if latest then
    return 'gen:' .. latest
  end
end
local st = redis.call('HGET', KEYS[1], 'st')
if st then
  return st
end
redis.call('HSET', KEYS[1], unpack(ARGV))
return 'created'
