-- Pause, resume or cancel an enrollment; idempotent.
-- KEYS[1] enrollment hash   KEYS[2] its message records
-- ARGV[1] 'pause' | 'resume' | 'cancel'   ARGV[2] now (caredrip clock, s)   ARGV[3] retention (s)
-- Returns the state afterwards and whether it changed: '<state>:changed' or '<state>:same'.
local st = redis.call('HGET', KEYS[1], 'st')
if not st then
  return 'gone'
end
local action = ARGV[1]
if action == 'pause' and st == 'active' then
  redis.call('HSET', KEYS[1], 'st', 'paused', 'u', ARGV[2])
  return 'paused:changed'
elseif action == 'resume' and st == 'paused' then
  redis.call('HSET', KEYS[1], 'st', 'active', 'u', ARGV[2])
  return 'active:changed'
elseif action == 'cancel' and (st == 'active' or st == 'paused') then
  redis.call('HSET', KEYS[1], 'st', 'canceled', 'u', ARGV[2], 'end', ARGV[2])
  redis.call('EXPIRE', KEYS[1], ARGV[3])
  redis.call('EXPIRE', KEYS[2], ARGV[3])
  return 'canceled:changed'
end
return st .. ':same'
