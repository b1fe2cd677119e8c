"""`caredrip alerts [--json]` and `caredrip alerts ack REPLY_ID`: open red-flag alerts, for operators.

Listed oldest first, with their clinic, enrollment, reply id and age; never a reply's text, and
for a reply no clinic can be told of, the sender's number masked to its last 4 digits.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from worker.cli.base import JsonOption, app, guarded, now, print_json, settings

if TYPE_CHECKING:
    from worker.deps import EngineDeps

alerts_app = typer.Typer(help="Red-flag alerts nobody has acknowledged yet (oldest first).")
app.add_typer(alerts_app, name="alerts")


@alerts_app.callback(invoke_without_command=True)
@guarded
def alerts(
    ctx: typer.Context,
    json_out: JsonOption = False,
    limit: Annotated[int, typer.Option(min=1, max=10000, help="Most alerts to show, oldest first.")] = 1000,
) -> None:
    """Open alerts: reply id, clinic, enrollment, masked sender (operators' inbox only), raised at, age."""
    if ctx.invoked_subcommand is not None:
        return
    from worker import wiring

    settings()
    rows = alert_rows(wiring.engine_deps(), limit)
    if json_out:
        print_json(rows)
    elif not rows:
        typer.echo("no open alerts")
    else:
        typer.echo(f"{'reply_id':<24} {'clinic':<12} {'enrollment':<22} {'from':<8} {'raised_at':<26} age")
        for r in rows:
            clinic, enrollment = r["clinic_id"] or "operators", r["enrollment_id"] or "-"
            line = f"{r['reply_id']:<24} {clinic:<12} {enrollment:<22} {r['from'] or '-':<8} {r['raised_at']:<26}"
            typer.echo(f"{line} {_age(r['age_seconds'])}")


@alerts_app.command("ack")
@guarded
def alerts_ack(reply_id: Annotated[str, typer.Argument(help="The flagged reply's id (`caredrip alerts`).")]) -> None:
    """Close an open alert (any clinic's, or one in the operators' inbox); exit 1 if none is open."""
    from worker import wiring
    from worker.alerts import operator_close

    settings()
    alert = operator_close(wiring.engine_deps(), reply_id)
    typer.echo(f"closed the alert of reply {alert.reply_id} ({alert.clinic_id or 'operators'})")


def alert_rows(deps: EngineDeps, limit: int) -> list[dict[str, Any]]:
    """The open alerts as `--json` prints them: reply_id, clinic_id ('' for the operators' inbox),
    enrollment_id, from (masked, operators' inbox only), raised_at, age_seconds."""
    from worker.alerts import open_alerts

    found = open_alerts(deps, None, limit)
    replies = deps.store.get_replies([a.reply_id for a in found]) if found else []
    at = now()
    return [
        {
            "reply_id": alert.reply_id,
            "clinic_id": alert.clinic_id,
            "enrollment_id": alert.enrollment_id,
            "from": reply.masked_sender if reply is not None else "",
            "raised_at": alert.raised_at.isoformat(),
            "age_seconds": max(0, int((at - alert.raised_at).total_seconds())),
        }
        for alert, reply in zip(found, replies, strict=True)
    ]


def _age(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    return f"{seconds // 3600}h{(seconds % 3600) // 60:02d}m"
