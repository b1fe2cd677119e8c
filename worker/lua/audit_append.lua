-- Append one entry to the audit trail and (with KEYS[2]) to its clinic's copy, under one id on
-- the caredrip clock; drop the entries older than the retention period and renew the expiry.
-- KEYS[1] cd:audit   KEYS[2] (optional) the clinic's stream, in cd:audit's hash slot
-- ARGV[1] the entry's time (caredrip clock, epoch ms)   ARGV[2] the oldest time kept (epoch ms)
-- ARGV[3] the streams' expiry (ms)   ARGV[4..] field, value, ...
-- The id is `<ARGV[1]>-0`, or the one after the latest id of either stream when that is not
-- earlier (several entries in one ms, or a process whose clock is behind another's): then the
-- field `at` keeps the entry's own time. Returns the id.
local at = tonumber(ARGV[1])
local last_ms, last_seq = -1, -1
for _, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 1 then
    local info = redis.call('XINFO', 'STREAM', key)
    for i = 1, #info, 2 do
      if info[i] == 'last-generated-id' then
        local ms, seq = string.match(info[i + 1], '^(%d+)-(%d+)$')
        ms, seq = tonumber(ms), tonumber(seq)
        if ms > last_ms or (ms == last_ms and seq > last_seq) then
          last_ms, last_seq = ms, seq
        end
      end
    end
  end
end
local fields = {}
for i = 4, #ARGV do
  fields[#fields + 1] = ARGV[i]
end
local id = ARGV[1] .. '-0'
if last_ms >= at then
  id = string.format('%.0f', last_ms) .. '-' .. string.format('%.0f', last_seq + 1)
  if last_ms > at then
    fields[#fields + 1] = 'at'
    fields[#fields + 1] = ARGV[1]
  end
end
for _, key in ipairs(KEYS) do
  redis.call('XADD', key, 'MINID', ARGV[2], id, unpack(fields))
  redis.call('PEXPIRE', key, ARGV[3])
end
return id
