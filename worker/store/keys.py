"""Every Redis key caredrip reads or writes: its name, type and expiry, in one table.

Only `worker.store` builds these names. `{...}` is a Redis Cluster hash tag: each Lua script
touches keys of one tag only. Times are caredrip clock times unless the row says otherwise.

key                        type    expiry             holds
cd:{e:<id>}                hash    retention          one enrollment (field codes: worker.store.codec); the patient's
                                                      name, phone, email and ref only sealed, as one token `x`
                                                      (aad the enrollment id; plain n/ph/em/r only from before
                                                      sealing, until `caredrip keys rotate`); once it has ended,
                                                      also its message records packed, in chunk fields `*0`, `*1`,
                                                      ... of at most 240 characters (worker.store.packed)
cd:{e:<id>}:m              hash    retention          its message records: `<step>.<channel>.<occurrence>` ->
                                                      `code|at|lateness|provider id|reason|attempts`; gone once the
                                                      enrollment has ended and they are packed into the enrollment
                                                      hash; a record written after that (a late status callback, a
                                                      resend, a send in flight at the cancel) starts it again, with
                                                      the enrollment's expiry, and wins over the packed copy until
                                                      the next compaction folds it in
cd:{e:<id>}:gen            string  see below          beside generation 0 of a (clinic, patient_ref, program)
                                                      re-enrolled after an end: the latest generation
cd:{due:<channel>}         zset    -                  due index: enrollment id, scored by next due (ms)
cd:{due:<channel>}:lease   zset    -                  claimed ids, scored by lease expiry (Redis time, ms; renewed by
                                                      the send batch's heartbeat, renew.lua); an id leaves when its
                                                      send finishes or is reaped
cd:{due:<channel>}:tok     hash    -                  claimed id -> token of the claim holding it: only that
                                                      claim's task may release it (leaves with the lease)
cd:optout:sms              hash    -                  blind index of the number (never the number) -> `<epoch s>|
                                                      <source>` of its SMS opt-out (a field that is a plain E.164
                                                      number is from before: moved on first use and by `keys rotate`)
cd:seen:<kind>:<sid>       string  7 days             a provider webhook already acted on (replay guard)
cd:idx:unknown|failed      zset    -                  message ids operators must look at, scored by time (s)
cd:{n:<bi>}                hash    retention          one recipient by the blind index of its number or address (never
                                                      the value): `last` = `<clinic>|<enrollment>|<epoch s>` of the
                                                      latest SMS handed to the provider for the number;
                                                      `e:<enrollment id>` = clinic, each enrollment created with or
                                                      PATCHed to it; `h:<tag>` = epoch ms of each send of the last
                                                      8 days the caps count (tag: a hash of the message id)
cd:{n:<bi>}:h              hash    8 days (**)        a number's sends parked when one of its programs ended
                                                      (park_sends.lua): `<tag>` -> epoch ms, counted as `h:<tag>` are
cd:{n:<bi>}:r              zset    retention          the replies received from the number: reply id -> epoch ms
cd:{r:<reply id>}          hash    retention          one reply: c clinic, e enrollment, at (ms), b body (sealed,
                                                      aad the reply id), f red flag, ack (ms), n sender's blind
                                                      index, len, m masked sender (unmatched replies only),
                                                      md attachments (NumMedia, when > 0; never fetched)
cd:replies:<clinic id>     zset    retention          a clinic's replies, `<epoch ms, 13 digits>:<reply id>` at
                                                      score 0 (lexical = time order); `cd:replies:unmatched` is the
                                                      operators' inbox (replies from a number no clinic can be told of)
cd:alert:<reply id>        hash    retention          a red-flag alert, named by its reply: c clinic ('' for the
                                                      operators'), e enrollment, at raised (ms), closed (ms)
cd:alerts:open             zset    -                  every open alert: reply id -> raised at (ms); status, /metrics
cd:alerts:open:<owner>     zset    -                  one clinic's open alerts (`unmatched`: the operators'), alike
cd:resume:patient          zset    -                  enrollments paused by the patient's PAUSE -> when they resume
                                                      (ms); read by the dispatch tick
cd:stats:total             hash    -                  `<state>:<channel>:<program>` -> messages counted
cd:stats:m:<epoch minute>  hash    25 hours           `<state>:<channel>` -> messages in that minute; `late:<bound>`
                                                      -> sent messages by lateness bucket (worker.lateness; 0: open)
cd:dispatch                hash    -                  last dispatch run: last_at (s), runs, handed
cd:rl:<channel>            string  1 s past its slot  the shared rate limit's next free slot (Redis µs)
cd:lock:<name>             string  the lock's ttl     the holder's token (SET NX PX)
cd:clock                   hash    -                  `origin`: "<unix s>:<scale>" of the scaled clock
cd:secret                  string  -                  legacy: the generated secret of installations from before; the
                                                      first process that finds it copies it to var/keys/ and deletes it
                                                      (worker.secret_file); nothing writes it any more
cd:clinic:<id>             hash    -                  a clinic: name, phone, email, created, revoked (s);
                                                      `key:<key id>` -> `<sha256 of the key>|<created s>|<revoked s>`
                                                      per API key (`key`: the sha256 of a key from before key ids);
                                                      webhook_url, webhook_secret (sealed, aad the clinic id)
cd:clinics                 set     -                  every clinic id
cd:enrollments:<clinic id> hash    retention          the clinic's enrollment ids by created (ms), for the console's
                                                      patient list (clinic_index.lua): `t` top bucket, `n` ids listed,
                                                      `<b>` bucket b: up to 64 records `<ms, 9 base-36 digits><id>`
                                                      in time order; written with each create (a repeat's taken back);
                                                      ids only, never PHI; expired or erased ones dropped when a
                                                      reader finds them gone (a zset of before: converted on use)
cd:clinickeys              hash    -                  sha256(API key) -> clinic id (revoked: removed)
cd:operator:<id>           hash    -                  a console operator: name, created, revoked (s), token (its sha256)
cd:operators               set     -                  every operator id
cd:operatorkeys            hash    -                  sha256(operator token) -> operator id (revoked: removed)
cd:session:<sha256>        hash    the session's ttl  a console session by the sha256 of its cookie value: kind
                                                      (operator|clinic), who (its id), cred (sha256 of the token or
                                                      key it signed in with: revoking that ends it), csrf, created (s);
                                                      expires in real time (CAREDRIP_TIME_SCALE does not apply)
cd:intake:failed           list    - (1000 kept)      intake tasks refused, JSON {id, clinic, field, reason, at},
                                                      newest first (never the body)
cd:intake:failed:total     string  -                  intake tasks refused since the store began
cd:audit                   stream  retention          the audit trail (worker.audit): who did what, when, to which
                                                      enrollment; ids on the caredrip clock, trimmed by MINID to the
                                                      retention; fields a actor ("~<rest>" for one of its own clinic),
                                                      o action (its code, store.audit.ACTIONS), e enrollment, c clinic,
                                                      d detail (JSON, never PHI), at (ms; only if the id is later)
cd:audit:<clinic>:{cd:audit}                          one clinic's index (GET /v1/audit): stream, retention; the ids of
                                                      its entries, field e (enrollment id) alone; its tag puts it in the
                                                      slot of cd:audit (one script writes both)
cd:{w:<event id>}          hash    30 days (*)        one clinic event (worker.events): c clinic, t type, b JSON body
                                                      sent (ids only, no PHI), at (ms); per delivery kind k (hook: the
                                                      webhook, mail: the alert email) k.s state (pending, delivered,
                                                      failed, dropped), k.n attempts, k.f first attempt (ms), k.q queued
cd:{w:<event id>}:a        list    30 days (*)        its attempts, oldest first: JSON {kind, at, status|error, ms}
cd:{wh}:due                zset    -                  deliveries waiting: `<kind>:<event id>` -> due (caredrip clock ms)
cd:{wh}:lease              zset    -                  claimed deliveries -> lease expiry (Redis time ms); reaped back
cd:wh:failed               zset    30 days (trim, *)  deliveries given up after 24 h: `<kind>:<event id>` -> time (s)
cd:wh:stats                hash    -                  `<kind>:<delivered|failed|dropped>`, `emit:error` -> count
<queue>[\\x06\\x16<3|6|9>]   list    kombu's            Celery tasks waiting per queue and priority (kombu's)

(*) after the event's last write, or the retention if shorter (worker.events.event_ttl_s).
(**) real time after the program's end, as an address's record (sends only) expires 8 days after its last send.

No key name and no plain field holds a patient's name, number, email, reference or message text:
those are sealed (CAREDRIP_DATA_KEYS, `x` and `b`) or stand as a blind index (`<bi>`, `n`); the
masked sender `m` keeps the last 4 digits only.

"retention": CAREDRIP_RETENTION_DAYS after the enrollment ends (completed or canceled); none before. For
the recipient and reply keys: that long after their last write (a reply: after it was received). For
the audit streams: each entry that long after its time (trimmed at each append), each stream that long
after its last append.
The generation pointer has no expiry while the generation it names runs, and expires a retention
after that generation ends (generation.lua): it outlives every generation it points past.
"""

from __future__ import annotations

from enum import StrEnum


def enrollment_key(eid: str) -> str:
    return f"cd:{{e:{eid}}}"


def records_key(eid: str) -> str:
    return f"cd:{{e:{eid}}}:m"


def generation_key(first_eid: str) -> str:
    """The latest generation's pointer, in the hash tag of generation 0 (id `first_eid`)."""
    return f"cd:{{e:{first_eid}}}:gen"


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


def number_key(bi: str) -> str:
    """One recipient's record (routing, recent sends), by the blind index `bi` of its number or address."""
    return f"cd:{{n:{bi}}}"


def number_sends_key(bi: str) -> str:
    """The number's sends parked at the end of a program, still counted by the caps (worker.store.numbers)."""
    return f"cd:{{n:{bi}}}:h"


def number_replies_key(bi: str) -> str:
    """The replies received from the number with blind index `bi` (for erasure)."""
    return f"cd:{{n:{bi}}}:r"


def reply_key(rid: str) -> str:
    return f"cd:{{r:{rid}}}"


UNMATCHED = "unmatched"  # the operators' inbox: replies no clinic can be told of (clinic ids start with c_)


def replies_key(owner: str) -> str:
    """The replies of clinic `owner` (or of the operators' inbox, UNMATCHED), in time order."""
    return f"cd:replies:{owner}"


def alert_key(rid: str) -> str:
    return f"cd:alert:{rid}"


ALERTS_OPEN = "cd:alerts:open"


def open_alerts_key(owner: str) -> str:
    """The open alerts of clinic `owner` (or of the operators' inbox, UNMATCHED)."""
    return f"cd:alerts:open:{owner}"


PATIENT_RESUMES = "cd:resume:patient"

STATS_TOTAL = "cd:stats:total"
STATS_MINUTE_TTL_S = 25 * 3600  # 24 h of charts on Operations, and an hour's slack


def stats_minute_key(minute: int) -> str:
    """Outcome counts of one minute (`minute` = epoch seconds // 60 on the caredrip clock)."""
    return f"cd:stats:m:{minute}"


DISPATCH_KEY = "cd:dispatch"


def ratelimit_key(channel: str) -> str:
    return f"cd:rl:{channel}"


def lock_key(name: str) -> str:
    return f"cd:lock:{name}"


CLOCK_KEY = "cd:clock"
LEGACY_SECRET_KEY = "cd:secret"  # read once and deleted: see worker.secret_file

CLINICS = "cd:clinics"
CLINIC_KEYS = "cd:clinickeys"


def clinic_key(cid: str) -> str:
    return f"cd:clinic:{cid}"


def clinic_enrollments_key(cid: str) -> str:
    """The clinic's enrollment ids by creation time (worker.store.clinic_enrollments)."""
    return f"cd:enrollments:{cid}"


OPERATORS = "cd:operators"
OPERATOR_KEYS = "cd:operatorkeys"


def operator_key(oid: str) -> str:
    return f"cd:operator:{oid}"


def session_key(sid_hash: str) -> str:
    """A console session, by the sha256 of its cookie value (never the value itself)."""
    return f"cd:session:{sid_hash}"


INTAKE_FAILED = "cd:intake:failed"
INTAKE_FAILED_TOTAL = "cd:intake:failed:total"
INTAKE_FAILED_KEEP = 1000

AUDIT = "cd:audit"


def audit_clinic_key(cid: str) -> str:
    """Clinic `cid`'s copy of the audit trail; `{cd:audit}` hashes like `cd:audit` (one slot)."""
    return f"cd:audit:{cid}:{{cd:audit}}"


# kombu's Redis transport keeps one list per queue and priority step: `send`, `send\x06\x163`, ...
KOMBU_PRIORITY_SEP = "\x06\x16"
KOMBU_PRIORITY_STEPS = (3, 6, 9)


def queue_keys(queue: str) -> tuple[str, ...]:
    """The kombu lists holding the tasks waiting in `queue`, one per priority step."""
    return (queue, *(f"{queue}{KOMBU_PRIORITY_SEP}{step}" for step in KOMBU_PRIORITY_STEPS))


def seen_key(kind: str, ident: str) -> str:
    """A webhook (`kind`: inbound, optout) already acted on for provider message id `ident`."""
    return f"cd:seen:{kind}:{ident}"


def event_key(evt_id: str) -> str:
    """One clinic event and its deliveries' states (worker.store.webhooks)."""
    return f"cd:{{w:{evt_id}}}"


def event_attempts_key(evt_id: str) -> str:
    return f"cd:{{w:{evt_id}}}:a"


WEBHOOKS_DUE = "cd:{wh}:due"
WEBHOOKS_LEASE = "cd:{wh}:lease"
WEBHOOKS_FAILED = "cd:wh:failed"
WEBHOOKS_STATS = "cd:wh:stats"
