"""`caredrip explain ID [--json]` (an enrollment's messages and the rules that moved them) and
`caredrip programs [--json]` (the catalog with versions and active enrollments)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from worker.cli.base import JsonOption, app, guarded, print_json, settings


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
    typer.echo(f"{result['enrollment_id']} · {result['program']} · {result['state']} · {result['timezone']}")
    for m in result["messages"]:
        typer.echo(_row(m))


def _row(m: dict[str, Any]) -> str:
    local = (m["local_time"] or "")[:16].replace("T", " ")
    rule = f"{m['rule']}: {m['reason']}" if m["rule"] else (m["reason"] or "")
    return f"{local:<16}  {m['channel']:<5}  {m['step']:<20} {m['state']:<11} {rule}".rstrip()


@app.command()
@guarded
def programs(as_json: JsonOption = False) -> None:
    """Programs of the catalog: id, version (a hash of the program's files), languages, steps,
    active enrollments."""
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
        typer.echo(f"{r.id:<16} {r.version}  active {r.active:<8} {detail}")
