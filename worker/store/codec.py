"""Field codes and record packing: how enrollments and message records are laid out in Redis.

The only place that knows them (with the Lua scripts under worker/lua/, which use the same codes).
Memory grows with patients, so names are short and a new enrollment stores nothing empty.

Enrollment hash fields: c clinic, x the patient's details sealed as one token (below), p program,
ch channels (comma list), l language, tz timezone, st state, a anchor (s), ca created (s; only when
it differs from a), cs consent (`email=<recorded_at s>;sms=<recorded_at s>`), g generation (only
when > 0), u last changed (s), end ended (s), pr why it is paused (`clinic`, `red_flag`,
`patient`; only while paused: lifecycle.lua writes and clears it; a pause from before the field
reads as `clinic`), v the program version it started on (only when > 1: an enrollment stored
without it, from before versions, is on version 1); per channel: k:<ch> cursor,
d:<ch> next due (ms; 0 none), h:<ch> recent sends (s, comma list), o:<ch> opted out ("1"),
i:<ch> numbers introduced (`<n>`, or `<n>|<asked at s>` while the n-th introduction waits; SMS);
once ended, `*0`, `*1`, ...: its message records packed (worker.store.packed; decode ignores them).

lt when the anchors last changed or a pause last ended (s; worker.catchup; absent: never), am when
a PATCH last moved an anchor (s; `caredrip explain`; absent: never).

`x`: first name `n`, phone `ph`, email `em`, patient ref `r` and the clinic's dates the program
is timed from `an` (`visit=<epoch s>;…`: dates of a patient's care are PHI) (those the patient has), packed
and sealed as ONE token (worker.phi: Keyring.seal_fields, AES-256-GCM under CAREDRIP_DATA_KEYS,
bound to the enrollment id): ~80 characters for an SMS-only patient, so Redis must keep hash
values up to 256 bytes in its compact encoding (`hash-max-ziplist-value 256`). An enrollment
stored before sealing holds them plain as `n`, `ph`, `em`, `r` (read here; `caredrip keys rotate`
seals them); an erased one holds none of the five (first name "", no phone, no email, ref "").
Lua scripts never read them.

SMS opt-outs (`cd:optout:sms`): field = the number's blind index (worker.phi.IndexKey), value
`<epoch s>|<source>`; a field that is a plain E.164 number is from before, moved by
`Store.migrate_sms_opt_outs`.

Message record (field `<step>.<channel>.<occurrence>`): `code|at|lateness|provider id|reason|attempts`,
in the `:m` hash while the enrollment runs, packed into the enrollment hash once it has ended.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from worker.phi import Keyring
from worker.records import (
    Enrollment,
    EnrollmentState,
    EnrollmentUpdate,
    MessageRecord,
    MessageState,
    OptOut,
    OptOutSource,
    PausedReason,
    epoch_ms,
    epoch_s,
    from_epoch_ms,
    from_epoch_s,
)

STATE_CODES: dict[MessageState, str] = {
    MessageState.QUEUED: "q",
    MessageState.RETRYING: "r",
    MessageState.SENDING: "s",
    MessageState.SENT: "S",
    MessageState.DELIVERED: "d",
    MessageState.UNDELIVERED: "u",
    MessageState.FAILED: "f",
    MessageState.UNKNOWN: "x",
    MessageState.SKIPPED: "k",
}
CODE_STATES = {code: state for state, code in STATE_CODES.items()}
# callback.lua keeps its own copy of these ranks: a callback never moves a record to a lower one.
CALLBACK_RANKS = {MessageState.SENT: 2, MessageState.DELIVERED: 3, MessageState.UNDELIVERED: 3, MessageState.FAILED: 3}


def cursor_field(channel: str) -> str:
    return f"k:{channel}"


def due_field(channel: str) -> str:
    return f"d:{channel}"


def history_field(channel: str) -> str:
    return f"h:{channel}"


def optout_field(channel: str) -> str:
    return f"o:{channel}"


def intro_field(channel: str) -> str:
    return f"i:{channel}"


def record_field(step: str, channel: str, occurrence: int) -> str:
    return f"{step}.{channel}.{occurrence}"


def pack_record(record: MessageRecord) -> str:
    """`code|at|lateness|provider id|reason|attempts`: short enough for Redis's compact hashes."""
    at = "" if record.at is None else str(epoch_s(record.at))
    late = "" if record.lateness_seconds is None else str(record.lateness_seconds)
    reason = record.reason.replace("|", "/")
    return f"{STATE_CODES[record.state]}|{at}|{late}|{record.provider_id}|{reason}|{record.attempts}"


def unpack_record(eid: str, field: str, value: str) -> MessageRecord:
    step, channel, occurrence = field.rsplit(".", 2)
    code, at, late, provider, reason, attempts = (value.split("|") + [""] * 6)[:6]
    return MessageRecord(
        enrollment_id=eid,
        step=step,
        channel=channel,
        occurrence=int(occurrence),
        state=CODE_STATES.get(code, MessageState.UNKNOWN),
        at=from_epoch_s(int(at)) if at else None,
        lateness_seconds=int(late) if late else None,
        provider_id=provider,
        reason=reason,
        attempts=int(attempts or 0),
    )


SEALED = "x"  # the patient's details, sealed as one token
LATE_MARK = "lt"  # when the anchors last changed or a pause last ended (s): finish_send.lua, lifecycle.lua
ANCHORS_MOVED = "am"  # when a PATCH last moved an anchor (s): `caredrip explain`'s `anchor` rule
PHI_FIELDS = ("n", "ph", "em", "r", "an")  # inside the token; plain hash fields only before sealing
ERASABLE = (*PHI_FIELDS, SEALED)  # what an erasure removes (HDEL) from the enrollment hash


def phi_of(e: Enrollment) -> dict[str, str]:
    """The enrollment's details that are sealed, the empty ones left out."""
    return present_phi(
        {"n": e.first_name, "ph": e.phone or "", "em": e.email or "", "r": e.patient_ref, "an": pack_anchors(e.anchors)}
    )


def pack_anchors(anchors: Mapping[str, datetime]) -> str:
    """name -> instant as the token's `an`: `visit=<epoch s>;surgery=<epoch s>` (names sorted)."""
    return ";".join(f"{name}={epoch_s(at)}" for name, at in sorted(anchors.items()))


def unpack_anchors(raw: str) -> dict[str, datetime]:
    pairs = (part.partition("=") for part in raw.split(";") if part)
    return {name: from_epoch_s(int(at)) for name, _, at in pairs if at.lstrip("-").isdigit()}


def seal_phi(keyring: Keyring, eid: str, phi: Mapping[str, str]) -> str:
    """The `x` token for `phi` (bound to the enrollment id); "" when there is nothing to seal."""
    values = present_phi(phi)
    return keyring.seal_fields(values, aad=eid) if values else ""


def open_phi(keyring: Keyring, eid: str, h: Mapping[str, str | None]) -> dict[str, str]:
    """The details an enrollment hash holds: from its token, else plain (stored before sealing),
    else none (erased). SealError if the token does not open."""
    token = h.get(SEALED)
    if token:
        return keyring.open_fields(token, aad=eid)
    return {name: value for name in PHI_FIELDS if (value := h.get(name))}


def present_phi(phi: Mapping[str, str]) -> dict[str, str]:
    """`phi` without its empty values, in the token's order."""
    return {name: phi[name] for name in PHI_FIELDS if phi.get(name)}


def encode_enrollment(e: Enrollment, keyring: Keyring) -> dict[str, str]:
    """The enrollment hash: the patient's details sealed in `x`, no email or phone the patient
    lacks, no send history yet, and `ca` (created) only when it differs from the anchor `a` (a
    future start_at)."""
    token = seal_phi(keyring, e.id, phi_of(e))
    return _encode(e, {SEALED: token} if token else {})


def encode_enrollment_unsealed(e: Enrollment) -> dict[str, str]:
    """The hash as stored before sealing (details plain in `n`, `ph`, `em`, `r`), which
    `decode_enrollment` still reads and `caredrip keys rotate` seals: for tests of that migration
    and the benchmarks' baseline without encryption. caredrip itself never writes it."""
    return _encode(e, phi_of(e))


def _encode(e: Enrollment, details: dict[str, str]) -> dict[str, str]:
    anchor, created = str(epoch_s(e.anchor)), str(epoch_s(e.created_at))
    optional = {
        "cs": pack_consent(e.consent),
        "ca": "" if created == anchor else created,
        "g": str(e.generation) if e.generation else "",
        "v": str(e.version) if e.version != 1 else "",
        LATE_MARK: str(epoch_s(e.late_mark)) if e.late_mark else "",
    }
    fields = {
        "c": e.clinic_id,
        **details,
        "p": e.program,
        "ch": ",".join(e.channels),
        "l": e.language,
        "tz": e.timezone,
        "st": e.state.value,
        "a": anchor,
        **{name: value for name, value in optional.items() if value},
    }
    for ch in e.channels:
        fields[cursor_field(ch)] = str(e.cursor.get(ch, 0))
        fields[due_field(ch)] = _encode_due(e.next_due.get(ch))
        history = encode_history(e.history.get(ch, []))
        if history:
            fields[history_field(ch)] = history
    return fields


def update_phi(u: EnrollmentUpdate) -> dict[str, str]:
    """The details an update gives (all but the patient ref, which never changes; the anchors
    only when they change)."""
    phi = {"n": u.first_name, "ph": u.phone or "", "em": u.email or ""}
    return phi if u.anchors is None else {**phi, "an": pack_anchors(u.anchors)}


def encode_update(u: EnrollmentUpdate) -> dict[str, str]:
    """The fields an update writes besides the sealed details (`update_phi`, sealed by the store);
    cursors of channels that stay are never among them."""
    fields = {
        "l": u.language,
        "tz": u.timezone,
        "ch": ",".join(u.channels),
        "u": str(epoch_s(u.at)),
    }
    for ch, due in u.due.items():
        fields[due_field(ch)] = _encode_due(due)
    for ch, cursor in u.started.items():
        fields[cursor_field(ch)], fields[history_field(ch)] = str(cursor), ""
    for ch in u.dropped:
        fields[due_field(ch)] = "0"
    if u.consent is not None:
        fields["cs"] = pack_consent(u.consent)
    if u.intro is not None:
        fields[intro_field("sms")] = f"{u.intro}|{epoch_s(u.at)}"
    if u.late_mark is not None:
        fields[LATE_MARK] = str(epoch_s(u.late_mark))
    if u.anchors is not None:  # only set when an anchor moved
        fields[ANCHORS_MOVED] = str(epoch_s(u.at))
    return fields


def decode_enrollment(eid: str, h: dict[str, str], keyring: Keyring) -> Enrollment:
    """The stored enrollment; its details opened from `x` (or read plain, or none when erased).
    (Read once per message on the send path: each channel's fields in one pass, and `created_at`
    the anchor's own instant when `ca` is absent.)"""
    get = h.get
    channels = tuple(c for c in get("ch", "").split(",") if c)
    phi = open_phi(keyring, eid, h)
    cursor: dict[str, int] = {}
    next_due: dict[str, datetime | None] = {}
    history: dict[str, list[datetime]] = {}
    opted_out: dict[str, bool] = {}
    for ch in channels:
        cursor[ch] = int(get(cursor_field(ch), "0"))
        next_due[ch] = _decode_due(get(due_field(ch), "0"))
        sent = get(history_field(ch))
        history[ch] = [datetime.fromtimestamp(int(t), UTC) for t in sent.split(",") if t] if sent else []
        opted_out[ch] = bool(get(optout_field(ch)))
    anchor = datetime.fromtimestamp(int(h["a"]), UTC)
    created = get("ca")
    intro = get(_INTRO_SMS)
    consent = get("cs")
    return Enrollment(
        id=eid,
        clinic_id=h["c"],
        patient_ref=phi.get("r", ""),
        program=h["p"],
        first_name=phi.get("n", ""),
        phone=phi.get("ph") or None,
        email=phi.get("em") or None,
        channels=channels,
        language=h["l"],
        timezone=h["tz"],
        state=EnrollmentState(h["st"]),
        anchor=anchor,
        created_at=datetime.fromtimestamp(int(created), UTC) if created else anchor,
        consent=unpack_consent(consent) if consent else {},
        cursor=cursor,
        next_due=next_due,
        history=history,
        opted_out=opted_out,
        ended_at=_instant(get("end")),
        generation=int(get("g") or 0),
        **(_decode_intro(intro) if intro else _NO_INTRO),
        paused_reason=_decode_paused_reason(h),
        version=int(get("v") or 1),
        anchors=unpack_anchors(phi["an"]) if "an" in phi else {},
        late_mark=_instant(get(LATE_MARK)),
        anchors_moved_at=_instant(get(ANCHORS_MOVED)),
    )


_INTRO_SMS = intro_field("sms")
_NO_INTRO: dict[str, Any] = {"intros": 0, "intro_asked": None}


def _instant(raw: str | None) -> datetime | None:
    """An optional epoch-seconds field: None when absent or empty."""
    return datetime.fromtimestamp(int(raw), UTC) if raw else None


def _decode_paused_reason(h: dict[str, str]) -> PausedReason | None:
    """`pr` while paused; a pause stored before `pr` existed was a clinic's (the only kind then)."""
    if h.get("st") != "paused":
        return None
    reason = h.get("pr", "")
    return PausedReason(reason) if reason in {r.value for r in PausedReason} else PausedReason.CLINIC


def _decode_intro(raw: str) -> dict[str, Any]:
    """`intros` and `intro_asked` from `i:sms` (`<n>` or `<n>|<asked at s>`)."""
    count, _, asked = raw.partition("|")
    return {"intros": int(count or 0), "intro_asked": from_epoch_s(int(asked)) if asked.isdigit() else None}


def encode_history(history: Sequence[datetime]) -> str:
    return ",".join(str(epoch_s(t)) for t in history)


def _encode_due(due: datetime | None) -> str:
    return str(epoch_ms(due)) if due else "0"


def _decode_due(raw: str) -> datetime | None:
    return None if raw in ("", "0") else from_epoch_ms(int(raw))


# -- opt-outs and consent (added with worker/optouts.py) -----------------------------------------
def pack_opt_out(at: datetime, source: OptOutSource) -> str:
    """`<epoch s>|<source>`: the value of a number in the SMS opt-out hash and of `o:<channel>`."""
    return f"{epoch_s(at)}|{source.value}"


def unpack_opt_out(value: str) -> OptOut:
    """Also reads what older versions stored: a bare epoch (SMS) or "1" (email), without source."""
    at, _, source = value.partition("|")
    when = from_epoch_s(int(at)) if at.isdigit() and at != "1" else None
    known = source in {s.value for s in OptOutSource}
    return OptOut(when, OptOutSource(source) if known else None)


def pack_consent(consent: dict[str, datetime]) -> str:
    """channel -> recorded_at as the `cs` field: `email=<epoch s>;sms=<epoch s>` (channels sorted)."""
    return ";".join(f"{ch}={epoch_s(at)}" for ch, at in sorted(consent.items()))


def unpack_consent(raw: str) -> dict[str, datetime]:
    """The enrollment's `cs` field, `sms=<epoch s>;email=<epoch s>`: channel -> recorded_at."""
    found: dict[str, datetime] = {}
    for part in raw.split(";"):
        ch, _, at = part.partition("=")
        if at.isdigit():  # an empty part has none
            found[ch] = datetime.fromtimestamp(int(at), UTC)
    return found
