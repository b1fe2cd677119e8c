-- Pause, resume or cancel an enrollment; idempotent.
-- KEYS[1] enrollment hash   KEYS[2] its message records
-- ARGV[1] 'pause' | 'resume' | 'cancel'   ARGV[2] now (caredrip clock, s)   ARGV[3] retention (s)
-- ARGV[4] pause: why ('clinic' | 'red_flag' | 'patient'; '' = 'clinic'), kept in field 'pr' while
--         paused; pausing a paused enrollment only raises the reason (patient < clinic < red_flag).
--         resume: '' resumes any pause; a reason resumes only a pause for that reason (the
--         patient's own 7-day pause ends by itself, never a clinic's or a red flag's).
-- No record stays 'retrying' (or 'queued') on a stopped enrollment: pause makes it 'skipped' for
-- 'paused', and resume makes such a record due again ('queued', its attempts kept: the step goes
-- out after the resume); cancel makes it, or a paused-skipped one, 'skipped' for 'canceled'.
-- A resume sets 'lt' (the catch-up mark, worker.catchup): steps that fell due before it are late.
-- Returns the state afterwards and whether it changed: '<state>:changed' or '<state>:same'.
local st = redis.call('HGET', KEYS[1], 'st')
if not st then
  return 'gone'
end
local now = ARGV[2]

local function rewrite(pick)
  local all = redis.call('HGETALL', KEYS[2])
  for i = 1, #all, 2 do
    local rec = all[i + 1]
    local code = string.sub(rec, 1, 1)
    local reason = string.match(rec, '^[^|]*|[^|]*|[^|]*|[^|]*|([^|]*)|') or ''
    local into = pick(code, reason)
    if into then
      local attempts = string.match(rec, '|(%d*)$') or ''
      redis.call('HSET', KEYS[2], all[i], into .. '|' .. attempts)
    end
  end
end

local rank = {patient = 1, clinic = 2, red_flag = 3}
local function reason_of(value)
  if rank[value] then return value end
  return 'clinic'
end

local action = ARGV[1]
local wanted = ARGV[4] or ''
if action == 'pause' and st == 'paused' then
  local held = reason_of(redis.call('HGET', KEYS[1], 'pr'))
  local asked = reason_of(wanted)
  if rank[asked] > rank[held] then
    redis.call('HSET', KEYS[1], 'pr', asked, 'u', now)
  end
  return 'paused:same'
elseif action == 'resume' and st == 'paused' and wanted ~= ''
    and reason_of(redis.call('HGET', KEYS[1], 'pr')) ~= wanted then
  return 'paused:same'
end
if action == 'pause' and st == 'active' then
  redis.call('HSET', KEYS[1], 'st', 'paused', 'u', now, 'pr', reason_of(wanted))
  rewrite(function(code)
    if code == 'r' or code == 'q' then return 'k|' .. now .. '|||paused' end
  end)
  return 'paused:changed'
elseif action == 'resume' and st == 'paused' then
  redis.call('HSET', KEYS[1], 'st', 'active', 'u', now, 'lt', now)
  redis.call('HDEL', KEYS[1], 'pr')
  rewrite(function(code, reason)
    if code == 'k' and reason == 'paused' then return 'q|' .. now .. '|||' end
  end)
  return 'active:changed'
elseif action == 'cancel' and (st == 'active' or st == 'paused') then
  redis.call('HSET', KEYS[1], 'st', 'canceled', 'u', now, 'end', now)
  redis.call('HDEL', KEYS[1], 'pr')
  rewrite(function(code, reason)
    if code == 'r' or code == 'q' or (code == 'k' and reason == 'paused') then
      return 'k|' .. now .. '|||canceled'
    end
  end)
  redis.call('EXPIRE', KEYS[1], ARGV[3])
  redis.call('EXPIRE', KEYS[2], ARGV[3])
  return 'canceled:changed'
end
return st .. ':same'
