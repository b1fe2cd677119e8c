"""`caredrip operator add NAME`: a console operator and its sign-in token (printed once, alone on
the last line; only its SHA-256 is kept)."""

from __future__ import annotations

from typing import Annotated

import typer

from worker.cli.base import app, guarded, now, settings

operator_app = typer.Typer(no_args_is_help=True, help="Console operators: add one (its token is printed once).")
app.add_typer(operator_app, name="operator")


@operator_app.command("add")
@guarded
def operator_add(name: Annotated[str, typer.Argument(help="The operator's name, as shown in the console.")]) -> None:
    """Add an operator; its console sign-in token is printed once, alone on the last line."""
    from worker import wiring
    from worker.console.operators import add_operator
    from worker.store import ConsoleStore

    settings()
    oid, token = add_operator(ConsoleStore(wiring.redis_client()), name, now())
    typer.echo(f"operator {oid} added: {name}")
    typer.echo("Console token (shown once; sign in at /console with it):")
    typer.echo(token)
