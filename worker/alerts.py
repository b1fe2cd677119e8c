"""Red-flag alerts: raised when a patient's reply matches a warning sign, open until the clinic
acknowledges that reply (POST /v1/replies/{id}/ack) or, for a reply no clinic can be told of, an
operator closes it (`caredrip alerts ack`).

An alert is named by its reply's id and carries no reply text: its clinic ('' for the operators'
inbox), its enrollment and when it was raised. Operators see open alerts (`caredrip alerts`), their
count and the age of the oldest in `caredrip status` and /metrics.
"""

from __future__ import annotations

from datetime import datetime

from worker.deps import EngineDeps
from worker.errors import NotFound
from worker.store import StoredAlert


def raise_alert(deps: EngineDeps, reply_id: str, clinic_id: str, enrollment_id: str, at: datetime) -> StoredAlert:
    """Open the alert of a flagged reply (kept, like the reply, for the retention period)."""
    alert = StoredAlert(reply_id=reply_id, clinic_id=clinic_id, enrollment_id=enrollment_id, raised_at=at)
    deps.store.raise_alert(alert, deps.retention_s)
    return alert


def close_for_reply(deps: EngineDeps, reply_id: str, clinic_id: str) -> bool:
    """The clinic acknowledged reply `reply_id`: close its alert, if it has an open one."""
    return deps.store.close_alert(reply_id, clinic_id, deps.clock.now())


def operator_close(deps: EngineDeps, reply_id: str) -> StoredAlert:
    """An operator closes an alert (any clinic's, or the operators' inbox's); NotFound when there
    is no open alert of that reply."""
    alert = deps.store.get_alert(reply_id)
    if alert is None or not deps.store.close_alert(reply_id, alert.clinic_id, deps.clock.now()):
        raise NotFound(f"no open alert for reply {reply_id}")
    return alert


def open_alerts(deps: EngineDeps, clinic_id: str | None = None, limit: int = 1000) -> list[StoredAlert]:
    """Open alerts, oldest first: one clinic's, or every clinic's and the operators' (None)."""
    return deps.store.open_alerts(clinic_id, limit)
