"""Every Redis key caredrip keeps: its name, type and expiry, in one place.

Keys (prefix `cd:`; `{...}` is the Redis Cluster hash tag, so each Lua script touches one tag):
  cd:{e:<id>}            hash   one enrollment (short field names: memory grows with patients)
  cd:{e:<id>}:m          hash   its message records, field `<step>.<channel>.<occurrence>`
  cd:{due:<channel>}     zset   the due index: one entry per active enrollment and channel,
                                scored by the next message's due time (caredrip clock, ms)
  cd:{due:<channel>}:lease zset claimed entries, scored by lease expiry (Redis server time, ms)
  cd:optout:sms          hash   E.164 number -> `<epoch s>|<source>` of its SMS opt-out (all clinics)
  cd:seen:<kind>:<sid>   string a provider webhook already acted on (replay guard), expires after days
  cd:idx:unknown|failed  zset   message ids operators must look at, scored by time
  cd:clinic:<id>         hash   a clinic; cd:clinickeys hash: sha256(key) -> clinic id
  cd:phones:<n>          hash   E.164 number -> clinic id of its latest enrollment (HELP replies),
                                in 16,384 buckets by CRC32 so each stays a compact listpack
  cd:inbox:<clinic id>   list   patients' other SMS replies, newest first, JSON, last 1000 kept
  cd:stats:total         hash   `<state>:<channel>:<program>` -> messages that reached that state
  cd:rl:<channel>        string the shared rate limit's theoretical arrival time
  cd:clock, cd:secret    shared clock origin and the secret for derived ids and tokens
  cd:dispatch            hash   last dispatch run (time, runs, messages handed): is beat alive?
Ended enrollments and their records expire CAREDRIP_RETENTION_DAYS after their end.
"""

from __future__ import annotations

import zlib

CHANNELS = ("sms", "email")


def enrollment_key(eid: str) -> str:
    return f"cd:{{e:{eid}}}"


def records_key(eid: str) -> str:
    return f"cd:{{e:{eid}}}:m"


def due_key(channel: str) -> str:
    return f"cd:{{due:{channel}}}"


def lease_key(channel: str) -> str:
    return f"cd:{{due:{channel}}}:lease"


OPTOUT_SMS = "cd:optout:sms"
UNKNOWN_INDEX = "cd:idx:unknown"
FAILED_INDEX = "cd:idx:failed"
CLOCK_KEY = "cd:clock"
PHONE_BUCKETS = 16384  # small hashes stay compact listpacks up to about 2 million numbers


def phones_key(number: str) -> str:
    """The bucket holding `number` -> clinic of its latest enrollment (for HELP replies)."""
    return f"cd:phones:{zlib.crc32(number.encode()) % PHONE_BUCKETS}"
STATS_TOTAL = "cd:stats:total"
INBOX_KEEP = 1000
SECRET_KEY = "cd:secret"
DISPATCH_KEY = "cd:dispatch"


def inbox_key(clinic_id: str) -> str:
    return f"cd:inbox:{clinic_id}"


CLINICS = "cd:clinics"
CLINIC_KEYS = "cd:clinickeys"


def clinic_key(cid: str) -> str:
    return f"cd:clinic:{cid}"


def seen_key(kind: str, ident: str) -> str:
    """A webhook (`kind`: inbound, optout) already acted on for provider message id `ident`."""
    return f"cd:seen:{kind}:{ident}"
