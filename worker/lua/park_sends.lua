-- A program of the number ended: move the recent sends out of the recipient's record into a key
-- of their own that expires 8 days from now, so that the record (kept for the retention) does not
-- carry them once no cap needs them. reserve_send.lua counts both keys; a later reservation
-- writes to the record again (until the next end).
-- KEYS[1] the recipient's record   KEYS[2] its parked sends (hash `<tag>` = epoch ms)
-- ARGV[1] sends before this (epoch ms) are dropped   ARGV[2] the parked sends' expiry (ms)
-- Returns how many sends were moved.
local record = redis.call('HGETALL', KEYS[1])
local moved, keep_from = 0, tonumber(ARGV[1])
for i = 1, #record, 2 do
  local name = record[i]
  if string.sub(name, 1, 2) == 'h:' then
    redis.call('HDEL', KEYS[1], name)
    if (tonumber(record[i + 1]) or 0) >= keep_from then
      redis.call('HSET', KEYS[2], string.sub(name, 3), record[i + 1])
      moved = moved + 1
    end
  end
end
if moved > 0 then
  redis.call('PEXPIRE', KEYS[2], ARGV[2])
end
return moved
