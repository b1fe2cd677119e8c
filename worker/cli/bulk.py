"""`caredrip enroll --csv FILE [--clinic ID] [--dry-run] [--json]`: many patients from one file.

The rules are `worker.bulk_intake`'s; here the file is read, a progress bar runs on stderr, and
the summary (created, already enrolled, rejected) and each rejected row are printed. Exit 0 when
every row was enrolled, 1 when some rows were rejected (the valid ones are stored), 2 for a file
refused whole (too many rows, a bad header, unreadable).
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from worker.bulk_rows import Format
from worker.cli.base import print_json, settings
from worker.errors import ValidationError


def file_format(path: Path) -> Format:
    """JSON lines for a `.jsonl` or `.ndjson` file, CSV otherwise."""
    return "ndjson" if path.suffix.lower() in (".jsonl", ".ndjson") else "csv"


def read_file(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ValidationError("csv", f"no file {str(path)!r}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationError("csv", f"cannot read {str(path)!r}: {exc}") from None


def enroll_file(path: Path, clinic: str | None, *, dry_run: bool, as_json: bool) -> None:
    """Enroll every valid row of the file; see the module docstring for output and exit codes."""
    from worker import audit, wiring
    from worker.bulk_intake import Source, bulk_enroll
    from worker.bulk_rows import read_rows
    from worker.clinics import active_clinic

    settings()
    text, fmt = read_file(path), file_format(path)
    total, rows = read_rows(text, fmt)
    store = wiring.clinics()
    if clinic is not None:
        active_clinic(store, clinic)

    def check_clinic(cid: str) -> None:
        active_clinic(store, cid, field="clinic_id")

    source = Source(clinic, check_clinic, actor=audit.OPERATOR)
    deps = wiring.engine_deps()
    label = "checking" if dry_run else "enrolling"
    with typer.progressbar(length=total, label=label, file=sys.stderr, show_pos=True) as bar:
        report = bulk_enroll(deps, rows, source, dry_run=dry_run, progress=bar.update)
    if as_json:
        print_json(report.as_json())
    else:
        head = "dry run, nothing stored: would create" if dry_run else "created"
        typer.echo(f"{head} {report.created}, already enrolled {report.existing}, rejected {len(report.rejected)}"
                   f" (of {report.rows} rows)")  # fmt: skip
        for r in report.rejected:
            typer.echo(f"row {r.row}: {r.field}: {r.reason}")
    if report.rejected:
        raise typer.Exit(1)
