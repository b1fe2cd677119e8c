-- Shared by begin_send.lua, finish_send.lua and callback.lua: their include line naming this file
-- is replaced by its text when worker.store.ops loads them (script_source).
-- A record written after the enrollment ended (its records packed into the enrollment hash,
-- worker.store.packed) starts a new records hash: it expires with the enrollment.
local function expire_with_enrollment(records, enrollment)
  if redis.call('PTTL', records) == -1 then
    local ttl = redis.call('PTTL', enrollment)
    if ttl > 0 then
      redis.call('PEXPIRE', records, ttl)
    end
  end
end
