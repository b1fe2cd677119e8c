"""`caredrip simulate` and `caredrip lint`: content, offline."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from worker.cli.base import JsonOption, app, fail, guarded, parse_instant, print_json, settings, split


@app.command()
@guarded
def simulate(
    program: Annotated[str, typer.Option(help="Program id (a folder under the content dir).")] = "twitching",
    days: Annotated[int, typer.Option(min=1, max=3660, help="How many days to show.")] = 28,
    timezone: Annotated[str, typer.Option(help="The patient's IANA timezone.")] = "America/New_York",
    language: Annotated[str, typer.Option(help="Language of the messages.")] = "en",
    channels: Annotated[str, typer.Option(help="Comma-separated: sms, email.")] = "sms,email",
    start: Annotated[str | None, typer.Option(help="Enrollment instant, ISO 8601 with offset (default: now).")] = None,
    first_name: Annotated[str, typer.Option(help="First name to render with.")] = "Ana",
    anchor: Annotated[
        list[str] | None, typer.Option(help="A date the program is timed from: NAME=ISO 8601 with offset (repeatable).")
    ] = None,
    json_out: JsonOption = False,
) -> None:
    """A patient's whole timeline, offline: when each message lands and what it says (steps an
    anchor leaves already past at --start: sent or skipped by the program's catch-up policy)."""
    from worker.clock import SystemClock
    from worker.errors import ContentError
    from worker.programs import load_program
    from worker.render import Renderer
    from worker.simulate import format_table
    from worker.simulate import simulate as run_simulation

    s = settings()
    try:
        loaded = load_program(s.content_dir, program)
    except ContentError as exc:
        fail(f"program: {exc}", 2)
    begin = parse_instant("start", start) if start else SystemClock().now().replace(second=0, microsecond=0)
    anchors = {}
    for given in anchor or []:
        name, sep, value = given.partition("=")
        if not sep:
            fail(f"--anchor: NAME=ISO 8601 expected, got {given!r}", 2)
        anchors[name.strip()] = parse_instant(f"anchors.{name.strip()}", value.strip())
    try:
        result = run_simulation(
            loaded, Renderer(s.templates_dir), timezone=timezone, language=language, channels=split(channels),
            start=begin, days=days, quiet=s.quiet_hours, caps=s.caps, context={"first_name": first_name},
            anchors=anchors,
        )  # fmt: skip
    except ValueError as exc:
        fail(str(exc), 2)
    if json_out:
        print_json(result)
    else:
        typer.echo(format_table(result), nl=False)


@app.command()
@guarded
def lint(
    content_dir: Annotated[Path | None, typer.Option(help="Programs to check (default: CAREDRIP_CONTENT_DIR).")] = None,
    with_redis: Annotated[
        bool, typer.Option("--redis", help="Also check that every version with active enrollments loads.")
    ] = False,
) -> None:
    """Check programs and templates: rendering, segments, caps, quiet hours, reading level,
    released versions (with --redis: also those active enrollments follow)."""
    from worker.lint import lint_content

    s = settings()
    report = lint_content(content_dir or s.content_dir, s.templates_dir, s.quiet_hours, s.caps)
    if with_redis:
        from worker import wiring
        from worker.program_list import versions_in_use_problems
        from worker.programs import ProgramCatalog

        catalog = ProgramCatalog(content_dir or s.content_dir)
        report.problems.extend(versions_in_use_problems(catalog, wiring.engine_deps().store))
    for line in report.summary:
        typer.echo(line)
    for problem in report.problems:
        typer.echo(problem)
    if report.problems:
        typer.echo(f"{len(report.problems)} problem(s)", err=True)
        raise typer.Exit(1)
