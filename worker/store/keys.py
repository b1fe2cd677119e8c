"""Every Redis key caredrip reads or writes: its name, type and expiry, in one table.

Only `worker.store` builds these names. `{...}` is a Redis Cluster hash tag: each Lua script
touches keys of one tag only. Times are caredrip clock times unless the row says otherwise.

key                        type    expiry             holds
cd:{e:<id>}                hash    retention          one enrollment (field codes: worker.store.codec)
cd:{e:<id>}:m              hash    retention          its message records: `<step>.<channel>.<occurrence>`
cd:{due:<channel>}         zset    -                  due index: enrollment id, scored by next due (ms)
cd:{due:<channel>}:lease   zset    -                  claimed ids, scored by lease expiry (Redis time, ms);
                                                      an id leaves when its send finishes or is reaped
cd:{due:<channel>}:tok     hash    -                  claimed id -> token of the claim holding it: only that
                                                      claim's task may release it (leaves with the lease)
cd:optout:sms              hash    -                  E.164 number -> `<epoch s>|<source>` of its SMS opt-out
cd:seen:<kind>:<sid>       string  7 days             a provider webhook already acted on (replay guard)
cd:idx:unknown|failed      zset    -                  message ids operators must look at, scored by time (s)
cd:phones:<bucket>         hash    -                  number -> clinic of its latest enrollment (HELP);
                                                      16,384 buckets by CRC32, so each stays a listpack
cd:inbox:<clinic id>       list    - (1000 kept)      patients' other SMS replies, JSON, newest first
cd:stats:total             hash    -                  `<state>:<channel>:<program>` -> messages counted
cd:stats:m:<epoch minute>  hash    2 hours            `<state>:<channel>` -> messages in that minute
cd:dispatch                hash    -                  last dispatch run: last_at (s), runs, handed
cd:rl:<channel>            string  1 s past its slot  the shared rate limit's next free slot (Redis µs)
cd:lock:<name>             string  the lock's ttl     the holder's token (SET NX PX)
cd:clock                   hash    -                  `origin`: "<unix s>:<scale>" of the scaled clock
cd:secret                  string  -                  secret for derived ids and tokens, unless configured
cd:clinic:<id>             hash    -                  a clinic: name, phone, email, key (hash), revoked
cd:clinics                 set     -                  every clinic id
cd:clinickeys              hash    -                  sha256(API key) -> clinic id (revoked: removed)
<queue>[\\x06\\x16<3|6|9>]   list    kombu's            Celery tasks waiting per queue and priority (kombu's)

"retention": CAREDRIP_RETENTION_DAYS after the enrollment ends (completed or canceled); none before.
"""

from __future__ import annotations

import zlib
from enum import StrEnum

CHANNELS = ("sms", "email")


def enrollment_key(eid: str) -> str:
    return f"cd:{{e:{eid}}}"


def records_key(eid: str) -> str:
    return f"cd:{{e:{eid}}}:m"


def due_key(channel: str) -> str:
    return f"cd:{{due:{channel}}}"


def lease_key(channel: str) -> str:
    return f"cd:{{due:{channel}}}:lease"


def lease_tokens_key(channel: str) -> str:
    return f"cd:{{due:{channel}}}:tok"


OPTOUT_SMS = "cd:optout:sms"


class OperatorIndex(StrEnum):
    """The lists of message ids operators must look at (the value is the key)."""

    UNKNOWN = "cd:idx:unknown"
    FAILED = "cd:idx:failed"


UNKNOWN_INDEX = OperatorIndex.UNKNOWN
FAILED_INDEX = OperatorIndex.FAILED

PHONE_BUCKETS = 16384  # small hashes stay compact listpacks up to about 2 million numbers


def phones_key(number: str) -> str:
    """The bucket holding `number` -> clinic of its latest enrollment (for HELP replies)."""
    return f"cd:phones:{zlib.crc32(number.encode()) % PHONE_BUCKETS}"


INBOX_KEEP = 1000


def inbox_key(clinic_id: str) -> str:
    return f"cd:inbox:{clinic_id}"


STATS_TOTAL = "cd:stats:total"
STATS_MINUTE_TTL_S = 7200


def stats_minute_key(minute: int) -> str:
    """Outcome counts of one minute (`minute` = epoch seconds // 60 on the caredrip clock)."""
    return f"cd:stats:m:{minute}"


DISPATCH_KEY = "cd:dispatch"


def ratelimit_key(channel: str) -> str:
    return f"cd:rl:{channel}"


def lock_key(name: str) -> str:
    return f"cd:lock:{name}"


CLOCK_KEY = "cd:clock"
SECRET_KEY = "cd:secret"

CLINICS = "cd:clinics"
CLINIC_KEYS = "cd:clinickeys"


def clinic_key(cid: str) -> str:
    return f"cd:clinic:{cid}"


# kombu's Redis transport keeps one list per queue and priority step: `send`, `send\x06\x163`, ...
KOMBU_PRIORITY_SEP = "\x06\x16"
KOMBU_PRIORITY_STEPS = (3, 6, 9)


def queue_keys(queue: str) -> tuple[str, ...]:
    """The kombu lists holding the tasks waiting in `queue`, one per priority step."""
    return (queue, *(f"{queue}{KOMBU_PRIORITY_SEP}{step}" for step in KOMBU_PRIORITY_STEPS))


def seen_key(kind: str, ident: str) -> str:
    """A webhook (`kind`: inbound, optout) already acted on for provider message id `ident`."""
    return f"cd:seen:{kind}:{ident}"
