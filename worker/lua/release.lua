-- Release claimed entries, each only by the claim that holds it: back into the due index, or out.
-- KEYS[1] due index   KEYS[2] lease set   KEYS[3] lease tokens
-- ARGV: one triple per entry (a batch's consecutive releases on one channel come as one call):
--   enrollment id, the claim's token ('': the caller holds no claim, and acts only while no
--   claim holds the entry), due (caredrip clock ms; '' = not due again)
-- An entry put in the due index while the claim was held (a PATCH, a resume) keeps the earlier of
-- the two times: an early entry is only looked at again, a late one would make the message late.
-- Returns, per entry in order, 1 when released, 0 when the entry is no longer this caller's
-- (reaped or claimed again).
local function release(eid, token, due)
  local held = redis.call('HGET', KEYS[3], eid)
  if token == '' then
    if held then
      return 0
    end
  elseif held ~= token then
    return 0
  else
    redis.call('HDEL', KEYS[3], eid)
  end
  redis.call('ZREM', KEYS[2], eid)
  if due ~= '' then
    local current = redis.call('ZSCORE', KEYS[1], eid)
    if not current or tonumber(current) > tonumber(due) then
      redis.call('ZADD', KEYS[1], due, eid)
    end
  end
  return 1
end

local done = {}
for i = 1, #ARGV, 3 do
  done[#done + 1] = release(ARGV[i], ARGV[i + 1], ARGV[i + 2])
end
return done
