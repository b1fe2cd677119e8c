-- End a channel's messages still waiting to go ('retrying' or 'queued') as 'skipped' for a reason:
-- the channel was dropped from the enrollment, so none of them will ever be sent.
-- KEYS[1] an enrollment's message records   ARGV[1] channel   ARGV[2] reason   ARGV[3] now (s)
-- Returns how many records were ended.
local all = redis.call('HGETALL', KEYS[1])
local ended = 0
for i = 1, #all, 2 do
  local field, rec = all[i], all[i + 1]
  local code = string.sub(rec, 1, 1)
  if (code == 'r' or code == 'q') and string.match(field, '^[^.]+%.([^.]+)%.%d+$') == ARGV[1] then
    local attempts = string.match(rec, '|(%d*)$') or ''
    redis.call('HSET', KEYS[1], field, 'k|' .. ARGV[3] .. '|||' .. ARGV[2] .. '|' .. attempts)
    ended = ended + 1
  end
end
return ended
