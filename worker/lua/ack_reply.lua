-- Acknowledge a clinic's reply, once: the first acknowledgement's time stays.
-- KEYS[1] the reply (hash)
-- ARGV[1] the clinic acknowledging it   ARGV[2] now (epoch ms)
-- Returns the acknowledgement's time (epoch ms, as a string) | nil: no such reply, or another clinic's
local clinic = redis.call('HGET', KEYS[1], 'c')
if not clinic or clinic == '' or clinic ~= ARGV[1] then
  return nil
end
redis.call('HSETNX', KEYS[1], 'ack', ARGV[2])
return redis.call('HGET', KEYS[1], 'ack')
