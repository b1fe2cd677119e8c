"""`caredrip status`, `caredrip messages failed|unknown|resend` and `caredrip intake failed`:
what needs an operator."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from worker.cli.base import JsonOption, app, fail, guarded, now, print_json, settings

if TYPE_CHECKING:
    from worker.store import OperatorIndex

messages_app = typer.Typer(no_args_is_help=True, help="Messages that need an operator: list and resend.")
intake_app = typer.Typer(no_args_is_help=True, help="Intake tasks (caredrip.enroll) that were refused.")
app.add_typer(messages_app, name="messages")
app.add_typer(intake_app, name="intake")

MESSAGE_KEYS = ("id", "enrollment_id", "channel", "step", "state", "reason")


@app.command()
@guarded
def status(json_out: JsonOption = False) -> None:
    """Queues, due backlog, lateness, leases, the last hour's outcomes, failed intakes, workers."""
    from worker import wiring
    from worker.status import celery_workers, format_table, gather

    settings()
    report = gather(wiring.store(), now(), celery_workers)
    if json_out:
        print_json(report)
    else:
        typer.echo(format_table(report))


@messages_app.command("failed")
@guarded
def messages_failed(json_out: JsonOption = False) -> None:
    """Messages the provider refused (or that could not be rendered)."""
    from worker.store import FAILED_INDEX

    _list_messages(FAILED_INDEX, json_out)


@messages_app.command("unknown")
@guarded
def messages_unknown(json_out: JsonOption = False) -> None:
    """Messages the provider may or may not have: never re-sent by themselves."""
    from worker.store import UNKNOWN_INDEX

    _list_messages(UNKNOWN_INDEX, json_out)


def _list_messages(index: OperatorIndex, json_out: bool) -> None:
    from worker import wiring

    settings()
    store = wiring.store()
    rows: list[dict[str, Any]] = []
    for mid in store.indexed_messages(index):
        record = store.record(mid)
        if record is not None:
            rows.append({"id": mid, "enrollment_id": record.enrollment_id, "channel": record.channel,
                         "step": record.step, "state": record.state.value, "reason": record.reason,
                         "at": record.at.isoformat() if record.at else ""})  # fmt: skip
    if json_out:
        print_json([{key: row[key] for key in MESSAGE_KEYS} for row in rows])
        return
    if not rows:
        typer.echo("none")
        return
    typer.echo(f"{'id':<48} {'to':<22} {'state':<8} {'at':<26} reason")
    for row in rows:
        enrollment = store.get_enrollment(row["enrollment_id"])
        masked = "" if enrollment is None else _masked_contact(row["channel"], enrollment.phone, enrollment.email)
        typer.echo(f"{row['id']:<48} {masked:<22} {row['state']:<8} {row['at']:<26} {row['reason']}")


@messages_app.command("resend")
@guarded
def messages_resend(
    message_id: Annotated[str | None, typer.Argument(metavar="ID", help="Message id to send again.")] = None,
    all_unknown: Annotated[bool, typer.Option("--all-unknown", help="Resend every message in state unknown.")] = False,
) -> None:
    """Send a message in state unknown or failed again, once, as a new message id."""
    from worker import wiring
    from worker.audit import OPERATOR
    from worker.delivery.resend import resend
    from worker.records import parse_message_id
    from worker.store import UNKNOWN_INDEX

    settings()
    if (message_id is None) == (not all_unknown):
        fail("give one message ID or --all-unknown", 2)
    if message_id is not None:
        try:
            parse_message_id(message_id)
        except ValueError as exc:
            fail(f"ID: {exc}", 2)
    deps = wiring.delivery_deps()
    targets = [message_id] if message_id is not None else deps.engine.store.indexed_messages(UNKNOWN_INDEX)
    if not targets:
        typer.echo("no messages in state unknown")
    for mid in targets:
        typer.echo(f"{mid}: {resend(deps, mid, actor=OPERATOR)}")


@intake_app.command("failed")
@guarded
def intake_failed(json_out: JsonOption = False) -> None:
    """Intake tasks refused (unknown or revoked clinic, bad body), newest first: the task id, the
    clinic, the field at fault and why (never the body)."""
    from worker import wiring
    from worker.intake_queue import failed_intakes

    settings()
    rows = [f.as_json() for f in failed_intakes(wiring.engine_deps())]
    if json_out:
        print_json(rows)
        return
    if not rows:
        typer.echo("none")
        return
    typer.echo(f"{'id':<38} {'clinic':<12} {'at':<26} {'field':<16} reason")
    for r in rows:
        typer.echo(f"{r['id']:<38} {r['clinic_id']:<12} {r['at']:<26} {r['field']:<16} {r['reason']}")


def _masked_contact(channel: str, phone: str | None, email: str | None) -> str:
    from worker.contact import mask_contact
    from worker.records import Channel

    return mask_contact(Channel(channel), phone, email)
