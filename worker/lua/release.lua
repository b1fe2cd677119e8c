-- Release a claimed entry, only by the claim that holds it: back into the due index, or out.
-- KEYS[1] due index   KEYS[2] lease set   KEYS[3] lease tokens
-- ARGV[1] enrollment id   ARGV[2] the claim's token ('': the caller holds no claim, and acts
-- only while no claim holds the entry)   ARGV[3] due (caredrip clock ms; '' = not due again)
-- An entry put in the due index while the claim was held (a PATCH, a resume) keeps the earlier of
-- the two times: an early entry is only looked at again, a late one would make the message late.
-- Returns 1 when released, 0 when the entry is no longer this caller's (reaped or claimed again).
local held = redis.call('HGET', KEYS[3], ARGV[1])
if ARGV[2] == '' then
  if held then
    return 0
  end
elseif held ~= ARGV[2] then
  return 0
else
  redis.call('HDEL', KEYS[3], ARGV[1])
end
redis.call('ZREM', KEYS[2], ARGV[1])
if ARGV[3] ~= '' then
  local current = redis.call('ZSCORE', KEYS[1], ARGV[1])
  if not current or tonumber(current) > tonumber(ARGV[3]) then
    redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
  end
end
return 1
