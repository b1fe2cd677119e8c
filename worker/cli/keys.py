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
    from worker import audit, wiring
    from worker.rotation import RotationReport, rotate, summary

    settings()
    store, deps = wiring.store(), wiring.engine_deps()

    def record(report: RotationReport) -> None:
        kinds = {"enrollments": report.enrollments, "replies": report.replies}
        kinds["webhook_secrets"] = report.webhook_secrets
        counts = {f"{kind}_{outcome}": n for kind, c in kinds.items() for outcome, n in c.items()}
        detail = {"key_id": report.kid, "complete": report.complete, "opt_outs_moved": report.opt_outs_moved}
        audit.record(deps, audit.OPERATOR, audit.Action.KEYS_ROTATE, detail={**detail, **counts})

    with typer.progressbar(length=max(store.key_count(), 1), label="keys", file=sys.stderr) as bar:
        report = rotate(store, page=page, progress=bar.update, audit=record)
    for line in summary(report):
        typer.echo(line)
    if not report.complete:
        fail("some records were not re-sealed (listed above): run again, or restore the missing key", 1)
