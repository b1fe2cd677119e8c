"""`caredrip explain ID [--json]` (an enrollment's messages and the rules that moved them) and
`caredrip programs [--json]` (the catalog with versions and active enrollments per version) and
`caredrip programs freeze PROGRAM` (release the declared version: worker.program_versions)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from worker.cli.base import JsonOption, app, fail, guarded, print_json, settings


@app.command()
@guarded
def explain(
    enrollment_id: Annotated[str, typer.Argument(metavar="ENROLLMENT_ID", help="Enrollment id, of any clinic.")],
    as_json: JsonOption = False,
) -> None:
    """Every past and future message of an enrollment: due time, local time, state, and the rule
    that moved it (quiet hours, a cap, a pause, a retry; `unknown` where nothing recorded says)."""
    from worker import wiring
    from worker.explain import explain as do_explain
    from worker.explain import schedule_json

    s = settings()
    result = schedule_json(do_explain(wiring.engine_deps(), enrollment_id, None, s.caps))
    if as_json:
        print_json(result)
        return
    program = f"{result['program']} v{result['program_version']}"
    typer.echo(f"{result['enrollment_id']} · {program} · {result['state']} · {result['timezone']}")
    for m in result["messages"]:
        typer.echo(_row(m))


def _row(m: dict[str, Any]) -> str:
    local = (m["local_time"] or "")[:16].replace("T", " ")
    rule = f"{m['rule']}: {m['reason']}" if m["rule"] else (m["reason"] or "")
    return f"{local:<16}  {m['channel']:<5}  {m['step']:<20} {m['state']:<11} {rule}".rstrip()


programs_app = typer.Typer(help="Programs of the catalog: versions and active enrollments per version.")
app.add_typer(programs_app, name="programs")


@programs_app.callback(invoke_without_command=True)
@guarded
def programs(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Programs of the catalog: id, current version, languages, steps, active enrollments, and
    each version (frozen, or current) with its steps and active enrollments."""
    if ctx.invoked_subcommand is not None:
        return
    from worker import wiring
    from worker.program_list import list_programs, rows_json

    settings()
    deps = wiring.engine_deps()
    rows = list_programs(deps.catalog, deps.store)
    if as_json:
        print_json(rows_json(rows))
        return
    for r in rows:
        detail = f"error: {r.error}" if r.error else f"{r.name} · {', '.join(r.languages)} · {r.steps} steps"
        typer.echo(f"{r.id:<16} v{r.version:<4} active {r.active:<8} {detail}")
        for v in r.versions:
            frozen = "frozen" if v.frozen else "NOT FROZEN"
            typer.echo(f"  v{v.version:<4} {frozen:<10} {v.steps:>3} steps  active {v.active}")


@programs_app.command("freeze")
@guarded
def programs_freeze(
    program: Annotated[str, typer.Argument(metavar="PROGRAM", help="Program id (a folder under the content dir).")],
    content_dir: Annotated[Path | None, typer.Option(help="Programs (default: CAREDRIP_CONTENT_DIR).")] = None,
) -> None:
    """Freeze the version program.yaml declares: write its steps to versions/<N>.yaml, which
    enrollments started on it follow to their end. Refused if that version is frozen with other
    steps (a changed schedule is a new version)."""
    from worker.errors import ContentError
    from worker.program_versions import freeze, frozen_path
    from worker.programs import list_programs

    base = content_dir or settings().content_dir
    if program not in list_programs(base):
        fail(f"program: no program {program!r} under {base}", 2)
    try:
        version, written = freeze(base / program)
    except ContentError as exc:
        fail(str(exc), 1)
    path = frozen_path(base / program, version)
    typer.echo(f"{program} v{version}: {'frozen in' if written else 'already frozen, unchanged:'} {path}")
