"""Mapping out: one message record as a Communication, and an enrollment's messages as a searchset.

| caredrip state | Communication.status | statusReason |
| --- | --- | --- |
| `sent`, `delivered` | `completed` | |
| `sending`, `retrying` | `in-progress` | `retrying`: `caps` when held, else `retrying` |
| `queued` | `preparation` | |
| `failed`, `undelivered`, `skipped` | `not-done` | code and text (table `REASONS`) |
| `unknown` | `unknown` | |

`sent` is when caredrip recorded the hand-off (for `delivered`, the carrier's report: `received`
too); `medium` is HL7 ParticipationMode (`EMAILWRIT` for email, `ONLINEWRIT` for SMS, which has
no code of its own) with caredrip's channel code beside it; `payload.contentString` the text
(`worker.fhir.payload`); `subject` and `recipient` the patient by identifier.
"""

from __future__ import annotations

from typing import Any

from worker.fhir.careplan_out import patient_ref
from worker.fhir.terms import MEDIUM, PARTICIPATION_MODE, channel_system, plan_url, reason_system
from worker.records import Enrollment, MessageRecord, MessageState

STATUS = {
    MessageState.SENT: "completed",
    MessageState.DELIVERED: "completed",
    MessageState.SENDING: "in-progress",
    MessageState.RETRYING: "in-progress",
    MessageState.QUEUED: "preparation",
    MessageState.FAILED: "not-done",
    MessageState.UNDELIVERED: "not-done",
    MessageState.SKIPPED: "not-done",
    MessageState.UNKNOWN: "unknown",
}

# caredrip's reason (a prefix of the record's `reason`) -> (code, text). First match wins.
REASONS: tuple[tuple[str, str, str], ...] = (
    ("opted_out", "opt-out", "The patient opted out of this channel"),
    ("optout:", "opt-out", "The provider reports the recipient opted out"),
    ("held", "caps", "Held by the patient's frequency caps or quiet hours"),
    ("cap", "caps", "The patient's frequency cap was reached"),
    ("late", "late", "Too late to send: the message's time had passed"),
    ("expired", "late", "Too late to send: the message's time had passed"),
    ("paused", "paused", "The care plan was on hold"),
    ("inactive", "paused", "The care plan was on hold or ended"),
    ("canceled", "canceled", "The care plan was revoked"),
    ("gone", "canceled", "The care plan no longer exists"),
    ("dropped", "channel-removed", "The channel was removed from the care plan"),
    ("render_error", "content-error", "The message could not be written from the program's content"),
)
UNDELIVERED = ("undelivered", "The carrier or mail server could not deliver the message")
REFUSED = ("provider-refused", "The provider refused the message")
RETRY = ("retrying", "The last attempt did not go through; it will be tried again")


def status_reason(record: MessageRecord, base: str) -> dict[str, Any] | None:
    """Why a message did not go (or is being retried): caredrip's code and a sentence."""
    if record.state not in (MessageState.FAILED, MessageState.UNDELIVERED, MessageState.SKIPPED, MessageState.RETRYING):
        return None
    reason = record.reason or ""
    code, text = next(((c, t) for prefix, c, t in REASONS if reason.startswith(prefix)), (None, None))
    if code is None:
        if record.state is MessageState.RETRYING:
            if not reason:
                return None
            code, text = RETRY
        else:
            code, text = UNDELIVERED if record.state is MessageState.UNDELIVERED else REFUSED
    detail = f"{text} ({reason})" if reason else str(text)
    return {"coding": [{"system": reason_system(base), "code": code}], "text": detail}


def communication(e: Enrollment, record: MessageRecord, text: str | None, base: str) -> dict[str, Any]:
    """The Communication JSON of one message record of enrollment `e`."""
    mode, display, label = MEDIUM[record.channel]
    out: dict[str, Any] = {
        "resourceType": "Communication",
        "id": record.id,
        "instantiatesCanonical": [plan_url(base, e.program)],
        "basedOn": [{"reference": f"CarePlan/{e.id}"}],
        "status": STATUS[record.state],
        "medium": [
            {
                "coding": [
                    {"system": PARTICIPATION_MODE, "code": mode, "display": display},
                    {"system": channel_system(base), "code": record.channel},
                ],
                "text": label,
            }
        ],
        "subject": patient_ref(e),
        "topic": {"text": f"{e.program}: {record.step}"},
        "recipient": [patient_ref(e)],
    }
    reason = status_reason(record, base)
    if reason is not None:
        out["statusReason"] = reason
    if record.at is not None and record.state in (MessageState.SENT, MessageState.DELIVERED, MessageState.UNDELIVERED):
        out["sent"] = record.at.isoformat()
    if record.at is not None and record.state is MessageState.DELIVERED:
        out["received"] = record.at.isoformat()
    if text is not None:
        out["payload"] = [{"contentString": text}]
    return out


def searchset(entries: list[dict[str, Any]], base: str, self_url: str) -> dict[str, Any]:
    """A searchset Bundle of `entries` (all matches: no paging)."""
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(entries),
        "link": [{"relation": "self", "url": self_url}],
        "entry": [
            {"fullUrl": f"{base}/fhir/r4/{r['resourceType']}/{r['id']}", "resource": r, "search": {"mode": "match"}}
            for r in entries
        ],
    }
