-- A clinic's enrollments by creation time (worker.store.clinic_enrollments), one hash:
--   t = the top bucket's number, n = how many records are listed,
--   <b> = bucket b: records of 29 characters, `<created ms, 9 base-36 digits><enrollment id, 20>`,
--         in ascending order; every record of bucket b sorts before every record of bucket b+1.
-- A bucket takes up to 64 records (~1.9 KB, one allocation) before the next one opens, so an
-- entry costs ~30 B where a sorted set's skiplist entry costs ~120 B. Records normally arrive in
-- time order (appended to the top bucket); a late one goes where it sorts. An index stored as the
-- sorted set of before (id -> created ms) is converted the first time any call meets it.
-- KEYS[1] cd:enrollments:<clinic>
-- ARGV[1] 'add'       ARGV[2] record   ARGV[3] expiry (s; 0: none)    -> the bucket it went to
--         'withdraw'  ARGV[2] record   ARGV[3] its bucket              -> 1 if it was there
--         'forget'    ARGV[2..] enrollment ids (every record of each)  -> records removed
--         'page'      ARGV[2] offset   ARGV[3] count                   -> {ids newest first, n}
local W, CAP = 29, 64
local key, op = KEYS[1], ARGV[1]

local function base36(ms)
  local digits, out = '0123456789abcdefghijklmnopqrstuvwxyz', {}
  for i = 9, 1, -1 do
    local d = ms % 36
    out[i] = string.sub(digits, d + 1, d + 1)
    ms = (ms - d) / 36
  end
  return table.concat(out)
end

local function convert()
  if redis.call('TYPE', key)['ok'] ~= 'zset' then
    return
  end
  local ttl = redis.call('PTTL', key)
  local rows = redis.call('ZRANGE', key, 0, -1, 'WITHSCORES')
  redis.call('DEL', key)
  local bucket, recs, n = 0, {}, 0
  for i = 1, #rows, 2 do
    if #rows[i] == 20 then
      recs[#recs + 1] = base36(tonumber(rows[i + 1])) .. rows[i]
      n = n + 1
      if #recs == CAP then
        redis.call('HSET', key, bucket, table.concat(recs))
        bucket, recs = bucket + 1, {}
      end
    end
  end
  if #recs > 0 then
    redis.call('HSET', key, bucket, table.concat(recs))
  elseif bucket > 0 then
    bucket = bucket - 1
  end
  if n > 0 then
    redis.call('HSET', key, 't', bucket, 'n', n)
    if ttl > 0 then
      redis.call('PEXPIRE', key, ttl)
    end
  end
end

local function bucket_of(b)
  return redis.call('HGET', key, b) or ''
end

-- `value` without the record at character `at` (1-based); the bucket dropped when it empties.
local function cut(b, value, at)
  value = string.sub(value, 1, at - 1) .. string.sub(value, at + W)
  if value == '' then
    redis.call('HDEL', key, b)
  else
    redis.call('HSET', key, b, value)
  end
  return value
end

local function counted(removed)
  if removed > 0 and redis.call('HINCRBY', key, 'n', -removed) <= 0 then
    redis.call('DEL', key)
  end
  return removed
end

-- the top bucket's number; a sorted set of before is converted first (only `add`, the one op of
-- every create, reads `t` without asking the key's type: HGET fails on a sorted set)
local function top_bucket()
  local top = redis.pcall('HGET', key, 't')
  if type(top) == 'table' and top.err then
    convert()
    top = redis.call('HGET', key, 't')
  end
  return tonumber(top)
end

if op ~= 'add' then
  convert()
end

if op == 'add' then
  local rec = ARGV[2]
  local top = top_bucket()
  local b
  if not top then
    b = 0
    redis.call('HSET', key, 0, rec, 't', 0)
  else
    b = top
    local value = bucket_of(b)
    while b > 0 and (value == '' or string.sub(value, 1, W) > rec) do
      b = b - 1
      value = bucket_of(b)
    end
    local len = #value / W
    if len >= CAP and string.sub(value, -W) <= rec and (b == top or bucket_of(b + 1) == '') then
      b = b + 1 -- a full bucket: the next one opens (or takes again, emptied by `forget`)
      redis.call('HSET', key, b, rec)
      if b > top then
        redis.call('HSET', key, 't', b)
      end
    elseif string.sub(value, -W) <= rec then
      redis.call('HSET', key, b, value .. rec) -- the usual: it sorts last in its bucket
    else
      local lo, hi = 0, len -- records that sort before or with `rec`
      while lo < hi do
        local mid = math.floor((lo + hi) / 2)
        if string.sub(value, mid * W + 1, mid * W + W) <= rec then
          lo = mid + 1
        else
          hi = mid
        end
      end
      redis.call('HSET', key, b, string.sub(value, 1, lo * W) .. rec .. string.sub(value, lo * W + 1))
    end
  end
  redis.call('HINCRBY', key, 'n', 1)
  if tonumber(ARGV[3]) > 0 then
    redis.call('EXPIRE', key, ARGV[3])
  end
  return b
end

if op == 'withdraw' then
  local rec, b = ARGV[2], ARGV[3]
  local value = bucket_of(b)
  local at = string.find(value, rec, 1, true)
  while at and (at - 1) % W ~= 0 do
    at = string.find(value, rec, at + 1, true)
  end
  if not at then
    return 0
  end
  cut(b, value, at)
  return counted(1)
end

if op == 'forget' then
  local top = tonumber(redis.call('HGET', key, 't'))
  if not top then
    return 0
  end
  local left, pending, removed = {}, #ARGV - 1, 0
  for i = 2, #ARGV do
    left[ARGV[i]] = true
  end
  for b = top, 0, -1 do
    local value = bucket_of(b)
    local found = {}
    for id in pairs(left) do
      local at = string.find(value, id, 1, true)
      while at do
        if (at - 1) % W == 9 then
          value = cut(b, value, at - 9)
          removed = removed + 1
          found[id] = true
          at = string.find(value, id, at - 9, true)
        else
          at = string.find(value, id, at + 1, true)
        end
      end
    end
    for id in pairs(found) do
      left[id] = nil
      pending = pending - 1
    end
    if pending == 0 then
      break
    end
  end
  return counted(removed)
end

if op == 'page' then
  local top = tonumber(redis.call('HGET', key, 't'))
  if not top then
    return {{}, 0}
  end
  local skip, want, ids = tonumber(ARGV[2]), tonumber(ARGV[3]), {}
  for b = top, 0, -1 do
    if #ids >= want then
      break
    end
    local len = redis.call('HSTRLEN', key, b) / W
    if skip >= len then
      skip = skip - len
    else
      local value = bucket_of(b)
      for i = len - skip, 1, -1 do
        ids[#ids + 1] = string.sub(value, (i - 1) * W + 10, i * W)
        if #ids >= want then
          break
        end
      end
      skip = 0
    end
  end
  return {ids, tonumber(redis.call('HGET', key, 'n'))}
end

return redis.error_reply('clinic_index: unknown op ' .. tostring(op))
