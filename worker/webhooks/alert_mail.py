"""The urgent alert email a clinic gets for `alert.raised`: who to look at, and where to read it.

It names the enrollment id, the clinic's own patient reference and the reply's id, and points at
the inbox (`GET /v1/replies`); it never holds the reply's text or the patient's name or number,
so a mailbox read by many carries no PHI. A pure function of the stored event.
"""

from __future__ import annotations

from datetime import datetime

from worker.channels.base import OutgoingMessage
from worker.records import Channel
from worker.store import StoredEvent

SUBJECT = "Urgent: a patient's reply matched a warning sign"


def alert_email(event: StoredEvent, to: str, *, public_base_url: str, now: datetime) -> OutgoingMessage:
    """The alert email for `event` to the clinic's address `to`."""
    data = event.data()
    eid, ref, rid = (str(data.get(k) or "") for k in ("enrollment_id", "patient_ref", "reply_id"))
    base = public_base_url.rstrip("/")
    lines = [
        "A patient's reply to your caredrip messages matched a warning sign in the program.",
        "Their enrollment is paused, and they were told to call 911 (or their local emergency",
        "number) or your clinic.",
        "",
        f"Enrollment: {eid or '-'}",
        f"Patient ref: {ref or '-'}",
        f"Reply id: {rid or '-'}",
        f"Received: {event.created_at.isoformat()}",
        "",
        "Read the reply in your caredrip inbox (newest first, with your clinic key):",
        f"  GET {base}/v1/replies",
        f"and acknowledge it: POST {base}/v1/replies/{rid or '{id}'}/ack",
        "",
        "This email holds no patient details on purpose.",
        f"Event {event.id}",
    ]
    return OutgoingMessage(
        id=f"alert.{event.id}",
        enrollment_id=eid,
        clinic_id=event.clinic_id,
        program="",
        step="alert",
        channel=Channel.EMAIL,
        to=to,
        body="\n".join(lines) + "\n",
        language="en",
        timezone="UTC",
        due_at=now,
        subject=f"{SUBJECT} (enrollment {eid})" if eid else SUBJECT,
    )
