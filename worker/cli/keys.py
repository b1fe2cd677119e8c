"""`caredrip keys rotate`: every sealed record re-sealed under the first key of CAREDRIP_DATA_KEYS."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from worker.cli.base import app, fail, guarded, settings

keys_app = typer.Typer(no_args_is_help=True, help="The keyring that seals patient data at rest (CAREDRIP_DATA_KEYS).")
app.add_typer(keys_app, name="keys")


@keys_app.command("rotate")
@guarded
def keys_rotate(
    page: Annotated[int, typer.Option(min=10, max=100_000, help="Keys read per SCAN page.")] = 1000,
) -> None:
    """Re-seal every enrollment and reply under the first key, while the service runs; rerun
    safely. Also seals enrollments stored plain and moves plain SMS opt-outs to blind indexes."""
    from worker import wiring
    from worker.rotation import rotate, summary

    settings()
    store = wiring.store()
    with typer.progressbar(length=max(store.key_count(), 1), label="keys", file=sys.stderr) as bar:
        report = rotate(store, page=page, progress=bar.update)
    for line in summary(report):
        typer.echo(line)
    if not report.complete:
        fail("some records were not re-sealed (listed above): run again, or restore the missing key", 1)
