-- Append one entry to the audit trail and (with KEYS[2]) a reference to it to its clinic's index,
-- under one id on the caredrip clock; drop what is older than the retention period and renew the
-- expiry of both.
-- KEYS[1] cd:audit   KEYS[2] (optional) the clinic's index, a stream in cd:audit's hash slot
-- ARGV[1] the entry's time (caredrip clock, epoch ms)   ARGV[2] the oldest time kept (epoch ms)
-- ARGV[3] the streams' expiry (ms)   ARGV[4] enrollment id (also the clinic index's one field:
-- it filters by enrollment without reading the entry)   ARGV[5] actor   ARGV[6] action
-- ARGV[7] clinic id   ARGV[8] detail (JSON, or "")
-- The id is `<ARGV[1]>-0`, or the one after the latest id of either stream when that is not
-- earlier (several entries in one ms, or a process whose clock is behind another's): then the
-- field `at` keeps the entry's own time. Returns the id.
-- Usually one XADD of `<ARGV[1]>-*` finds it (Redis 7: the next sequence in that ms, refused when
-- the top is later); only when it is refused (a clock behind, the clinic's index ahead of the
-- trail, or Redis 6.2) are the streams' last ids read.
local function failed(reply)
  return type(reply) == 'table' and reply.err ~= nil
end

local fields = {'a', ARGV[5], 'o', ARGV[6], 'e', ARGV[4], 'c', ARGV[7], 'd', ARGV[8]}
local id = redis.pcall('XADD', KEYS[1], 'MINID', ARGV[2], ARGV[1] .. '-*', unpack(fields))
if failed(id) then
  id = nil
elseif KEYS[2] and failed(redis.pcall('XADD', KEYS[2], 'MINID', ARGV[2], id, 'e', ARGV[4])) then
  redis.call('XDEL', KEYS[1], id)  -- the clinic's index is ahead: both take the id after its top
  id = nil
end

if not id then
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
  id = ARGV[1] .. '-0'
  if last_ms >= at then
    id = string.format('%.0f', last_ms) .. '-' .. string.format('%.0f', last_seq + 1)
    if last_ms > at then
      fields[#fields + 1] = 'at'
      fields[#fields + 1] = ARGV[1]
    end
  end
  redis.call('XADD', KEYS[1], 'MINID', ARGV[2], id, unpack(fields))
  if KEYS[2] then
    redis.call('XADD', KEYS[2], 'MINID', ARGV[2], id, 'e', ARGV[4])
  end
end

redis.call('PEXPIRE', KEYS[1], ARGV[3])
if KEYS[2] then
  redis.call('PEXPIRE', KEYS[2], ARGV[3])
end
return id
