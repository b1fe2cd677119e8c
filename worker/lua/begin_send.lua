-- Take a message's "sending" state, atomically with the checks that may forbid it.
-- KEYS[1] enrollment hash   KEYS[2] its message records
-- ARGV[1] channel   ARGV[2] expected cursor ('-' for a resend: no cursor check)   ARGV[3] record field
-- ARGV[4] now (caredrip clock, s)   ARGV[5] age (s) after which an unfinished "sending" is stale
-- Returns 'ok:<attempt>' | 'gone' | 'inactive' | 'moved' | 'opted_out' | 'busy' | 'stale' | 'done:<record>'
-- ('done': the step already has a final record but the cursor was not moved on: the caller repairs)
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 'gone'
end
local enr = redis.call('HMGET', KEYS[1], 'st', 'k:' .. ARGV[1], 'o:' .. ARGV[1])
if enr[1] ~= 'active' and not (ARGV[2] == '-' and enr[1] == 'completed') then
  return 'inactive'
end
if ARGV[2] ~= '-' and enr[2] ~= ARGV[2] then
  return 'moved'
end
if enr[3] then
  return 'opted_out'
end
local attempts = 0
local rec = redis.call('HGET', KEYS[2], ARGV[3])
if rec then
  local code = string.sub(rec, 1, 1)
  attempts = tonumber(string.match(rec, '|(%d+)$')) or 0
  if code == 's' then
    local at = tonumber(string.match(rec, '^.|(%d+)')) or 0
    if tonumber(ARGV[4]) - at >= tonumber(ARGV[5]) then
      return 'stale'
    end
    return 'busy'
  end
  if code ~= 'r' and code ~= 'q' then
    return 'done:' .. rec
  end
end
redis.call('HSET', KEYS[2], ARGV[3], 's|' .. ARGV[4] .. '||||' .. (attempts + 1))
return 'ok:' .. (attempts + 1)
