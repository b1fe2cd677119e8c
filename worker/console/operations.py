"""Operations (operators only): queues, due backlog and in-flight per channel, the last hour's
outcomes, sends per minute and lateness p50/p99 over 24 hours as charts (worker.console.charts,
from the per-minute counts the send path keeps), workers and the dispatch heartbeat, the
`unknown` and `failed` lists with Resend.

Figures come from `worker.status.snapshot` (what `caredrip status` computes, one round trip);
the figures block refreshes itself with htmx. Resend asks for confirmation on a page of its own,
then calls `worker.delivery.resend.resend`: the very rules `caredrip messages resend` obeys.
Messages show masked contact details only, never bodies or names.

Open red-flag alerts are listed with their age (`worker.alerts.open_alerts`, what `caredrip
alerts` lists, never the reply's text); an operator may close one (`caredrip alerts ack`).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, Response

from worker.alerts import open_alerts, operator_close
from worker.clock import Clock, to_virtual
from worker.console import charts
from worker.console.auth import Form, Operator, Principal, check_csrf
from worker.console.deps import Console, console
from worker.console.views import HEADERS, PageError, page, see_other
from worker.contact import mask_contact
from worker.delivery.resend import RESENDABLE, resend
from worker.errors import NotFound
from worker.records import Channel, MessageRecord, parse_message_id
from worker.status import StatusSnapshot, snapshot
from worker.store import FAILED_INDEX, UNKNOWN_INDEX, MinuteCounts, OperatorIndex

router = APIRouter(prefix="/console", include_in_schema=False)
Ctx = Annotated[Console, Depends(console)]
STALE_S = 120.0  # no dispatch run for this long (real time: beat runs every second whatever the scale): down
LISTED = 100


def heartbeat(snap: StatusSnapshot, clock: Clock) -> dict[str, Any]:
    """The dispatch heartbeat: its last run, how long ago (caredrip clock), and whether that is
    stale: longer ago than STALE_S of real time (on a scaled clock, STALE_S times the scale)."""
    last = snap.dispatch.last_at
    age = (snap.now - last).total_seconds() if last else None
    return {"last_at": last, "age_s": age, "stale": last is None or snap.now - last > to_virtual(clock, STALE_S)}


def _listed(c: Console, index: OperatorIndex) -> list[dict[str, Any]]:
    store = c.engine().store
    rows: list[dict[str, Any]] = []
    for mid in store.indexed_messages(index, LISTED):
        record = store.record(mid)
        if record is None:
            continue
        enrollment = store.get_enrollment(record.enrollment_id)
        to = mask_contact(Channel(record.channel), enrollment.phone, enrollment.email) if enrollment else "—"
        rows.append({"record": record, "to": to, "resendable": record.state in RESENDABLE})
    return rows


def _minutes(c: Console) -> list[MinuteCounts]:
    """The last 24 hours' per-minute counts (one round trip)."""
    batch = c.engine().store.batch()
    minutes = batch.minute_counts(c.engine().clock.now(), charts.MINUTES)
    batch.run()
    return minutes.value


def _figures(c: Console) -> dict[str, Any]:
    clock = c.engine().clock
    snap = snapshot(c.engine().store, clock.now())
    return {"snap": snap, "beat": heartbeat(snap, clock), "workers": c.workers(), "day": charts.summary(_minutes(c))}


def _alerts(c: Console) -> list[dict[str, Any]]:
    deps = c.engine()
    now = deps.clock.now()
    return [{"alert": a, "age_s": (now - a.raised_at).total_seconds()} for a in open_alerts(deps, None, LISTED)]


@router.get("/operations")
def operations(who: Operator, c: Ctx) -> Response:
    values = {"who": who, "csrf": who.csrf, "nav": "operations", **_figures(c), "alerts": _alerts(c),
              "unknown": _listed(c, UNKNOWN_INDEX), "failed": _listed(c, FAILED_INDEX)}  # fmt: skip
    return page("operations.html", **values)


@router.post("/alerts/{rid}/close")
def close_alert(rid: str, who: Operator, form: Form, c: Ctx) -> Response:
    """An operator closes an open alert (as `caredrip alerts ack`)."""
    check_csrf(who, form)
    try:
        operator_close(c.engine(), rid)
    except NotFound:
        raise PageError(404, "No open alert", "That reply has no open alert (it may be closed already).") from None
    return see_other("/console/operations#alerts-title")


@router.get("/operations/figures")
def figures(who: Operator, c: Ctx) -> Response:
    """The figures block alone: what htmx swaps in every few seconds."""
    return page("_figures.html", **_figures(c))


@router.get("/operations/series.json")
def series(who: Operator, c: Ctx) -> Response:
    """Sends per minute and lateness p50/p99 per minute over the last 24 hours, for the charts."""
    return JSONResponse(charts.series(_minutes(c)), headers=HEADERS)


def _resendable(c: Console, mid: str) -> MessageRecord:
    try:
        parse_message_id(mid)
    except ValueError:
        raise PageError(404, "No such message", "That is not a message id caredrip gave.") from None
    record = c.engine().store.record(mid)
    if record is None:
        raise PageError(404, "No such message", "No message with that id is kept.")
    return record


def _confirm_values(who: Principal, c: Console, record: MessageRecord) -> dict[str, Any]:
    enrollment = c.engine().store.get_enrollment(record.enrollment_id)
    to = mask_contact(Channel(record.channel), enrollment.phone, enrollment.email) if enrollment else "—"
    return {"who": who, "csrf": who.csrf, "nav": "operations", "record": record, "to": to,
            "resendable": record.state in RESENDABLE}  # fmt: skip


@router.get("/messages/{mid}/resend")
def confirm_resend(mid: str, who: Operator, c: Ctx) -> Response:
    """The confirmation: what will be sent again, to whom (masked), and one button."""
    return page("resend.html", **_confirm_values(who, c, _resendable(c, mid)), outcome=None)


@router.post("/messages/{mid}/resend")
def do_resend(mid: str, who: Operator, form: Form, c: Ctx) -> Response:
    check_csrf(who, form)
    record = _resendable(c, mid)
    outcome = resend(c.delivery(), mid, actor=who.actor)
    status = 200 if outcome.startswith("sent ") else 409
    return page("resend.html", status, **_confirm_values(who, c, record), outcome=outcome)
