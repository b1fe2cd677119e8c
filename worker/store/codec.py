"""Field codes and record packing: how enrollments and message records are laid out in Redis."""

from __future__ import annotations

from datetime import datetime

from worker.records import (
    CODE_STATES,
    STATE_CODES,
    Enrollment,
    EnrollmentState,
    MessageRecord,
    MessageState,
    OptOut,
    OptOutSource,
    epoch_ms,
    epoch_s,
    from_epoch_ms,
    from_epoch_s,
)


def record_field(step: str, channel: str, occurrence: int) -> str:
    return f"{step}.{channel}.{occurrence}"


def pack_record(
    state: MessageState,
    at: datetime,
    *,
    lateness: int | None = None,
    provider_id: str = "",
    reason: str = "",
    attempts: int = 1,
) -> str:
    """`code|at|lateness|provider id|reason|attempts`: short enough for Redis's compact hashes."""
    late = "" if lateness is None else str(lateness)
    return f"{STATE_CODES[state]}|{epoch_s(at)}|{late}|{provider_id}|{reason.replace('|', '/')}|{attempts}"


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


def encode_enrollment(e: Enrollment) -> dict[str, str]:
    """The enrollment hash. Memory grows with patients, so nothing empty is stored: no email or
    phone the patient lacks, no send history yet, and `ca` (created) only when it differs from
    the anchor `a` (a future start_at)."""
    anchor, created = str(epoch_s(e.anchor)), str(epoch_s(e.created_at))
    optional = {"ph": e.phone or "", "em": e.email or "", "cs": e.consent, "ca": "" if created == anchor else created}
    fields = {
        "c": e.clinic_id,
        "r": e.patient_ref,
        "p": e.program,
        "n": e.first_name,
        "ch": ",".join(e.channels),
        "l": e.language,
        "tz": e.timezone,
        "st": e.state.value,
        "a": anchor,
        **{name: value for name, value in optional.items() if value},
    }
    for ch in e.channels:
        due = e.next_due.get(ch)
        fields[f"k:{ch}"] = str(e.cursor.get(ch, 0))
        fields[f"d:{ch}"] = str(epoch_ms(due)) if due else "0"
        history = ",".join(str(epoch_s(t)) for t in e.history.get(ch, []))
        if history:
            fields[f"h:{ch}"] = history
    return fields


def decode_enrollment(eid: str, h: dict[str, str]) -> Enrollment:
    channels = tuple(c for c in h.get("ch", "").split(",") if c)
    return Enrollment(
        id=eid,
        clinic_id=h["c"],
        patient_ref=h["r"],
        program=h["p"],
        first_name=h.get("n", ""),
        phone=h.get("ph") or None,
        email=h.get("em") or None,
        channels=channels,
        language=h["l"],
        timezone=h["tz"],
        state=EnrollmentState(h["st"]),
        anchor=from_epoch_s(int(h["a"])),
        created_at=from_epoch_s(int(h.get("ca") or h["a"])),
        consent=h.get("cs", ""),
        cursor={ch: int(h.get(f"k:{ch}", "0")) for ch in channels},
        next_due={ch: _due(h.get(f"d:{ch}", "0")) for ch in channels},
        history={ch: [from_epoch_s(int(t)) for t in h.get(f"h:{ch}", "").split(",") if t] for ch in channels},
        opted_out={ch: bool(h.get(f"o:{ch}")) for ch in channels},
        ended_at=from_epoch_s(int(h["end"])) if h.get("end") else None,
    )


def _due(raw: str) -> datetime | None:
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


def unpack_consent(raw: str) -> dict[str, datetime]:
    """The enrollment's `cs` field, `sms=<epoch s>;email=<epoch s>`: channel -> recorded_at."""
    pairs = (part.partition("=") for part in raw.split(";") if part)
    return {ch: from_epoch_s(int(at)) for ch, _, at in pairs if at.isdigit()}
