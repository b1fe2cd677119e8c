"""The `caredrip` command: run the stack, demo, simulate, lint, enroll, clinics, status, messages, replies.

Thin on purpose: each command reads the settings (a bad one stops it with one line naming the
setting, exit 2), calls one function elsewhere (worker.stack, worker.demo, worker.status,
worker.simulate, worker.lint, worker.clinics, worker.resend), and prints. Heavy imports happen
inside the commands so that `caredrip run` reaches its children quickly.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, ParamSpec, TypeVar

import typer

from worker.errors import CaredripError, ConfigError, NotFound, ValidationError

if TYPE_CHECKING:
    from worker.settings import Settings
    from worker.store import OperatorIndex

P = ParamSpec("P")
R = TypeVar("R")

app = typer.Typer(
    name="caredrip", no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
    help="Scheduled patient-education messaging: programs dripped by SMS and email at the patient's local time.",
)  # fmt: skip
clinic_app = typer.Typer(no_args_is_help=True, help="Add, list and revoke clinics and their API keys.")
messages_app = typer.Typer(no_args_is_help=True, help="Messages that need an operator: list and resend.")
replies_app = typer.Typer(no_args_is_help=True, help="Patients' replies no clinic can be told of (operators' inbox).")
app.add_typer(clinic_app, name="clinic")
app.add_typer(messages_app, name="messages")
app.add_typer(replies_app, name="replies")

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
MESSAGE_KEYS = ("id", "enrollment_id", "channel", "step", "state", "reason")


# -- plumbing -----------------------------------------------------------------------------------
def _fail(message: str, code: int) -> NoReturn:
    typer.echo(message, err=True)
    raise typer.Exit(code)


def guarded(command: Callable[P, R]) -> Callable[P, R]:
    """Turn caredrip's own errors into one line on stderr: exit 2 for bad settings or input."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        import redis

        try:
            return command(*args, **kwargs)
        except (ConfigError, ValidationError) as exc:
            _fail(str(exc), 2)
        except CaredripError as exc:
            _fail(str(exc), 1)
        except redis.ConnectionError as exc:
            _fail(f"cannot reach Redis: {exc}", 1)

    return wrapper


def _settings() -> Settings:
    from worker import wiring

    return wiring.settings()


def _now() -> datetime:
    from worker import wiring

    return wiring.clock().now()


def _print_json(value: Any) -> None:
    typer.echo(json.dumps(value, ensure_ascii=False, indent=2))


# -- the stack ----------------------------------------------------------------------------------
@app.command()
@guarded
def run(
    port: Annotated[int, typer.Option(help="API port.")] = 8000,
    host: Annotated[str, typer.Option(help="API address (127.0.0.1: this machine only).")] = "127.0.0.1",
) -> None:
    """API, worker and beat in one command, for a laptop (embedded Redis unless REDIS_URL is set)."""
    from worker.stack import run_stack

    raise typer.Exit(run_stack(_settings(), host, port, out=typer.echo))


@app.command()
@guarded
def demo() -> None:
    """A fictional patient's whole program in about a minute, each message printed as it goes out."""
    from worker.demo import run_demo

    raise typer.Exit(run_demo(_settings(), out=typer.echo))


# -- content ------------------------------------------------------------------------------------
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
    json_out: JsonOption = False,
) -> None:
    """A patient's whole timeline, offline: when each message lands and what it says."""
    from worker.clock import SystemClock
    from worker.errors import ContentError
    from worker.programs import load_program
    from worker.render import Renderer
    from worker.simulate import format_table
    from worker.simulate import simulate as run_simulation

    s = _settings()
    try:
        loaded = load_program(s.content_dir, program)
    except ContentError as exc:
        _fail(f"program: {exc}", 2)
    begin = _parse_instant("start", start) if start else SystemClock().now().replace(second=0, microsecond=0)
    try:
        result = run_simulation(
            loaded, Renderer(s.templates_dir), timezone=timezone, language=language, channels=_split(channels),
            start=begin, days=days, quiet=s.quiet_hours, caps=s.caps, context={"first_name": first_name},
        )  # fmt: skip
    except ValueError as exc:
        _fail(str(exc), 2)
    if json_out:
        _print_json(result)
    else:
        typer.echo(format_table(result), nl=False)


@app.command()
@guarded
def lint(
    content_dir: Annotated[Path | None, typer.Option(help="Programs to check (default: CAREDRIP_CONTENT_DIR).")] = None,
) -> None:
    """Check programs and templates: rendering, segments, caps, quiet hours, reading level."""
    from worker.lint import lint_content

    s = _settings()
    report = lint_content(content_dir or s.content_dir, s.templates_dir, s.quiet_hours, s.caps)
    for line in report.summary:
        typer.echo(line)
    for problem in report.problems:
        typer.echo(problem)
    if report.problems:
        typer.echo(f"{len(report.problems)} problem(s)", err=True)
        raise typer.Exit(1)


# -- enrollments and clinics --------------------------------------------------------------------
@app.command()
@guarded
def enroll(
    clinic: Annotated[str | None, typer.Option("--clinic", help="Clinic id (see `caredrip clinic list`).")] = None,
    patient_ref: Annotated[str | None, typer.Option(help="The clinic's own opaque patient id.")] = None,
    first_name: Annotated[str | None, typer.Option(help="Used in the messages.")] = None,
    timezone: Annotated[str | None, typer.Option(help="The patient's IANA timezone.")] = None,
    program: Annotated[str, typer.Option(help="Program id.")] = "twitching",
    phone: Annotated[str | None, typer.Option(help="E.164 mobile number (for sms).")] = None,
    email: Annotated[str | None, typer.Option(help="Email address (for email).")] = None,
    channels: Annotated[str, typer.Option(help="Comma-separated: sms, email.")] = "sms",
    language: Annotated[str, typer.Option(help="en or es.")] = "en",
    start_at: Annotated[str | None, typer.Option(help="Program start, ISO 8601 with offset (default: now).")] = None,
    consent: Annotated[bool, typer.Option("--consent", help="Assert the patient's consent was recorded.")] = False,
) -> None:
    """Enroll one patient (the same clinic, patient and program again changes nothing)."""
    from worker import wiring
    from worker.enrollment import enroll as do_enroll
    from worker.intake import parse_enrollment

    _settings()
    if not clinic:
        raise ValidationError("clinic", "required: pass --clinic ID")
    if not consent:
        raise ValidationError("consent", "pass --consent to assert the patient's consent to the channels was recorded")
    _active_clinic(clinic)
    chosen = _split(channels)
    given = {"patient_ref": patient_ref, "program": program, "first_name": first_name, "phone": phone,
             "email": email, "language": language, "timezone": timezone, "start_at": start_at}  # fmt: skip
    payload: dict[str, Any] = {key: value for key, value in given.items() if value is not None}
    payload["channels"] = chosen
    payload["consent"] = {**{ch: True for ch in chosen if ch in ("sms", "email")}, "recorded_at": _now().isoformat()}
    deps = wiring.engine_deps()
    enrollment, created = do_enroll(deps, parse_enrollment(clinic, payload, deps))
    typer.echo(f"enrollment {enrollment.id}: {'created' if created else 'already enrolled, unchanged'}")


def _active_clinic(clinic_id: str) -> None:
    from worker import wiring
    from worker.clinics import get_clinic

    try:
        info = get_clinic(wiring.clinics(), clinic_id)
    except NotFound:
        raise ValidationError("clinic", f"no clinic {clinic_id!r}") from None
    if not info.active:
        raise ValidationError("clinic", f"clinic {clinic_id} is revoked")


@clinic_app.command("add")
@guarded
def clinic_add(
    name: Annotated[str, typer.Argument(help="The clinic's name, as patients know it.")],
    phone: Annotated[str | None, typer.Option(help="Number patients may call, E.164.")] = None,
    email: Annotated[str | None, typer.Option(help="Contact address.")] = None,
) -> None:
    """Add a clinic; its API key is printed once, alone on the last line."""
    from worker import wiring
    from worker.clinics import add_clinic

    _settings()
    clinic_id, key = add_clinic(wiring.clinics(), name, phone, email, _now())
    typer.echo(f"clinic {clinic_id} added: {name}")
    typer.echo("API key (shown once; use it as `Authorization: Bearer <key>`):")
    typer.echo(key)


@clinic_app.command("list")
@guarded
def clinic_list(json_out: JsonOption = False) -> None:
    """Every clinic, revoked ones included (never their keys)."""
    from worker import wiring
    from worker.clinics import list_clinics

    _settings()
    rows: list[dict[str, Any]] = [
        {"id": c.id, "name": c.name, "phone": c.phone, "email": c.email,
         "created_at": c.created_at.isoformat() if c.created_at else None,
         "revoked_at": c.revoked_at.isoformat() if c.revoked_at else None}
        for c in list_clinics(wiring.clinics())
    ]  # fmt: skip
    if json_out:
        _print_json(rows)
        return
    typer.echo(f"{'id':<12} {'status':<8} {'name':<32} {'phone':<16} email")
    for r in rows:
        status = "revoked" if r["revoked_at"] else "active"
        typer.echo(f"{r['id']:<12} {status:<8} {r['name'][:32]:<32} {r['phone']:<16} {r['email']}")


@clinic_app.command("revoke")
@guarded
def clinic_revoke(clinic_id: Annotated[str, typer.Argument(metavar="ID", help="Clinic id.")]) -> None:
    """Revoke a clinic's API key at once (its enrollments keep running)."""
    from worker import wiring
    from worker.clinics import revoke_clinic

    _settings()
    if not revoke_clinic(wiring.clinics(), clinic_id, _now()):
        _fail(f"no clinic {clinic_id}", 1)
    typer.echo(f"clinic {clinic_id} revoked")


# -- operations ---------------------------------------------------------------------------------
@app.command()
@guarded
def status(json_out: JsonOption = False) -> None:
    """Queues, due backlog, lateness, leases, the last hour's outcomes, workers."""
    from worker import wiring
    from worker.status import celery_workers, format_table, gather

    _settings()
    report = gather(wiring.store(), _now(), celery_workers)
    if json_out:
        _print_json(report)
    else:
        typer.echo(format_table(report))


@messages_app.command("failed")
@guarded
def messages_failed(json_out: JsonOption = False) -> None:
    """Messages the provider refused (or that could not be rendered)."""
    from worker.store import FAILED_INDEX

    _list_messages(FAILED_INDEX, json_out)


@messages_app.command("unknown")
@guarded
def messages_unknown(json_out: JsonOption = False) -> None:
    """Messages the provider may or may not have: never re-sent by themselves."""
    from worker.store import UNKNOWN_INDEX

    _list_messages(UNKNOWN_INDEX, json_out)


def _list_messages(index: OperatorIndex, json_out: bool) -> None:
    from worker import wiring

    _settings()
    store = wiring.store()
    rows: list[dict[str, Any]] = []
    for mid in store.indexed_messages(index):
        record = store.record(mid)
        if record is not None:
            rows.append({"id": mid, "enrollment_id": record.enrollment_id, "channel": record.channel,
                         "step": record.step, "state": record.state.value, "reason": record.reason,
                         "at": record.at.isoformat() if record.at else ""})  # fmt: skip
    if json_out:
        _print_json([{key: row[key] for key in MESSAGE_KEYS} for row in rows])
        return
    if not rows:
        typer.echo("none")
        return
    typer.echo(f"{'id':<48} {'to':<22} {'state':<8} {'at':<26} reason")
    for row in rows:
        enrollment = store.get_enrollment(row["enrollment_id"])
        masked = "" if enrollment is None else _masked_contact(row["channel"], enrollment.phone, enrollment.email)
        typer.echo(f"{row['id']:<48} {masked:<22} {row['state']:<8} {row['at']:<26} {row['reason']}")


@messages_app.command("resend")
@guarded
def messages_resend(
    message_id: Annotated[str | None, typer.Argument(metavar="ID", help="Message id to send again.")] = None,
    all_unknown: Annotated[bool, typer.Option("--all-unknown", help="Resend every message in state unknown.")] = False,
) -> None:
    """Send a message in state unknown or failed again, once, as a new message id."""
    from worker import wiring
    from worker.delivery.resend import resend
    from worker.records import parse_message_id
    from worker.store import UNKNOWN_INDEX

    _settings()
    if (message_id is None) == (not all_unknown):
        _fail("give one message ID or --all-unknown", 2)
    if message_id is not None:
        try:
            parse_message_id(message_id)
        except ValueError as exc:
            _fail(f"ID: {exc}", 2)
    deps = wiring.delivery_deps()
    targets = [message_id] if message_id is not None else deps.engine.store.indexed_messages(UNKNOWN_INDEX)
    if not targets:
        typer.echo("no messages in state unknown")
    for mid in targets:
        typer.echo(f"{mid}: {resend(deps, mid)}")


@replies_app.command("unmatched")
@guarded
def replies_unmatched(
    json_out: JsonOption = False,
    limit: Annotated[int, typer.Option(min=1, max=10000, help="Most replies to show, newest first.")] = 100,
) -> None:
    """Replies from numbers no clinic can be told of: masked number, time and length, never the text."""
    from worker import wiring
    from worker.inbox import unmatched

    _settings()
    rows = [{"id": r.id, "from": r.sender, "received_at": r.received_at.isoformat(), "length": r.length}
            for r in unmatched(wiring.engine_deps(), limit)]  # fmt: skip
    if json_out:
        _print_json(rows)
    elif not rows:
        typer.echo("none")
    else:
        typer.echo(f"{'id':<24} {'from':<10} {'received_at':<26} length")
        for row in rows:
            typer.echo(f"{row['id']:<24} {row['from']:<10} {row['received_at']:<26} {row['length']}")


# -- helpers ------------------------------------------------------------------------------------
def _masked_contact(channel: str, phone: str | None, email: str | None) -> str:
    from worker.contact import mask_email, mask_phone

    if channel == "sms":
        return mask_phone(phone) if phone else ""
    return mask_email(email) if email else ""


def _split(values: str) -> list[str]:
    return [v.strip() for v in values.split(",") if v.strip()]


def _parse_instant(field: str, value: str) -> datetime:
    try:
        instant = datetime.fromisoformat(value)
    except ValueError:
        raise ValidationError(field, f"not an ISO 8601 time: {value!r}") from None
    if instant.tzinfo is None:
        raise ValidationError(field, "needs a UTC offset, e.g. 2026-03-01T10:00:00-05:00")
    return instant.astimezone(UTC)


if __name__ == "__main__":  # pragma: no cover
    app(prog_name="caredrip")
