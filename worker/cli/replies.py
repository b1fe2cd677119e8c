"""`caredrip replies unmatched`: the operators' inbox of replies no clinic can be told of."""

from __future__ import annotations

from typing import Annotated

import typer

from worker.cli.base import JsonOption, app, guarded, print_json, settings

replies_app = typer.Typer(no_args_is_help=True, help="Patients' replies no clinic can be told of (operators' inbox).")
app.add_typer(replies_app, name="replies")


@replies_app.command("unmatched")
@guarded
def replies_unmatched(
    json_out: JsonOption = False,
    limit: Annotated[int, typer.Option(min=1, max=10000, help="Most replies to show, newest first.")] = 100,
) -> None:
    """Replies from numbers no clinic can be told of: masked number, time and length, never the text."""
    from worker import wiring
    from worker.inbox import unmatched

    settings()
    rows = [{"id": r.id, "from": r.sender, "received_at": r.received_at.isoformat(), "length": r.length}
            for r in unmatched(wiring.engine_deps(), limit)]  # fmt: skip
    if json_out:
        print_json(rows)
    elif not rows:
        typer.echo("none")
    else:
        typer.echo(f"{'id':<24} {'from':<10} {'received_at':<26} length")
        for row in rows:
            typer.echo(f"{row['id']:<24} {row['from']:<10} {row['received_at']:<26} {row['length']}")
