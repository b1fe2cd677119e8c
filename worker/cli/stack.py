"""`caredrip run` and `caredrip demo`: the whole stack on a laptop."""

from __future__ import annotations

from typing import Annotated

import typer

from worker.cli.base import app, guarded, settings


@app.command()
@guarded
def run(
    port: Annotated[int, typer.Option(help="API port.")] = 8000,
    host: Annotated[str, typer.Option(help="API address (127.0.0.1: this machine only).")] = "127.0.0.1",
) -> None:
    """API, worker and beat in one command, for a laptop (embedded Redis unless REDIS_URL is set)."""
    from worker.settings import load_settings  # not worker.wiring's: this process builds no store
    from worker.stack import run_stack

    raise typer.Exit(run_stack(load_settings(), host, port, out=typer.echo))


@app.command()
@guarded
def demo() -> None:
    """A fictional patient's whole program in about a minute, each message printed as it goes out."""
    from worker.demo import run_demo

    raise typer.Exit(run_demo(settings(), out=typer.echo))
