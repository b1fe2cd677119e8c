"""`caredrip audit [--enrollment ID] [--json]` (the audit trail, every clinic's) and `caredrip
patient forget --phone E164` (erase every trace of a number, for every clinic)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from worker.cli.base import JsonOption, app, guarded, iso, print_json, settings

patient_app = typer.Typer(no_args_is_help=True, help="A patient's data: forget a number everywhere.")
app.add_typer(patient_app, name="patient")


@app.command("audit")
@guarded
def audit_trail(
    enrollment: Annotated[
        str | None, typer.Option("--enrollment", metavar="ID", help="Only this enrollment's entries.")
    ] = None,
    json_out: JsonOption = False,
    limit: Annotated[int, typer.Option(min=1, help="At most this many entries, the newest.")] = 1000,
) -> None:
    """Who changed what, when: enrollments, messages resent, clinic keys, erasures (newest first)."""
    from worker import wiring
    from worker.audit import entries

    settings()
    rows = [
        {"id": e.id, "at": iso(e.at), "actor": e.actor, "action": e.action,
         "enrollment_id": e.enrollment_id or None, "clinic_id": e.clinic_id or None, "detail": e.detail}
        for e in entries(wiring.engine_deps(), enrollment_id=enrollment, limit=limit)
    ]  # fmt: skip
    if json_out:
        print_json(rows)
        return
    if not rows:
        typer.echo("no entries")
        return
    typer.echo(f"{'at':<26} {'action':<13} {'enrollment':<21} {'clinic':<11} {'actor':<34} detail")
    for r in rows:
        detail = json.dumps(r["detail"], separators=(",", ":")) if r["detail"] else ""
        typer.echo(f"{r['at']:<26} {r['action']:<13} {r['enrollment_id'] or '-':<21} {r['clinic_id'] or '-':<11} "
                   f"{r['actor']:<34} {detail}")  # fmt: skip


@patient_app.command("forget")
@guarded
def patient_forget(
    phone: Annotated[str, typer.Option("--phone", metavar="E164", help="The number to forget, E.164.")],
) -> None:
    """Erase every trace of a number, at every clinic: its enrollments (canceled, then without name,
    patient ref or contacts), replies, records and indexes. Its SMS opt-out is kept."""
    from worker import wiring
    from worker.audit import OPERATOR
    from worker.erasure import forget_number

    settings()
    result = forget_number(wiring.engine_deps(), phone, actor=OPERATOR)
    counts: dict[str, Any] = result.counts()
    if not result.removed_anything:
        typer.echo(f"nothing to remove for {result.masked}: already forgotten, or never known")
        return
    typer.echo(f"forgot {result.masked}: " + ", ".join(f"{k} {v}" for k, v in counts.items() if k != "notes"))
