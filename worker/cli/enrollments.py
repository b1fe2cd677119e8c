"""`caredrip enroll` (one patient; a file of them: worker.cli.bulk) and `caredrip enrollment
pause|resume|cancel ID` (operators)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from worker.cli.base import JsonOption, app, guarded, now, settings, split
from worker.errors import ValidationError
from worker.records import CHANNELS

enrollment_app = typer.Typer(no_args_is_help=True, help="Pause, resume or cancel one enrollment, of any clinic.")
app.add_typer(enrollment_app, name="enrollment")

EnrollmentId = Annotated[str, typer.Argument(metavar="ID", help="Enrollment id.")]
Action = Literal["pause", "resume", "cancel"]


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
    csv: Annotated[Path | None, typer.Option("--csv", help="Enroll every row of a file (.jsonl: JSON lines).")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="With --csv: check every row, store nothing.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Enroll one patient (the same clinic, patient and program again changes nothing, unless the
    earlier enrollment ended: then a new one starts), or with --csv every row of a file (README:
    "Bulk intake")."""
    if csv is not None:
        from worker.cli.bulk import enroll_file

        if any(v is not None for v in (patient_ref, first_name, timezone, phone, email, start_at)) or consent:
            raise ValidationError("csv", "rows carry the patients: give --csv FILE [--clinic ID] alone")

        enroll_file(csv, clinic, dry_run=dry_run, as_json=as_json)
        return
    if dry_run or as_json:
        raise ValidationError("dry-run" if dry_run else "json", "only with --csv")
    from worker import wiring
    from worker.audit import OPERATOR
    from worker.clinics import active_clinic
    from worker.enrollment import enroll as do_enroll
    from worker.intake import parse_enrollment

    settings()
    if not clinic:
        raise ValidationError("clinic", "required: pass --clinic ID")
    if not consent:
        raise ValidationError("consent", "pass --consent to assert the patient's consent to the channels was recorded")
    active_clinic(wiring.clinics(), clinic)
    chosen = split(channels)
    given = {"patient_ref": patient_ref, "program": program, "first_name": first_name, "phone": phone,
             "email": email, "language": language, "timezone": timezone, "start_at": start_at}  # fmt: skip
    payload: dict[str, Any] = {key: value for key, value in given.items() if value is not None}
    payload["channels"] = chosen
    payload["consent"] = {**{ch: True for ch in chosen if ch in CHANNELS}, "recorded_at": now().isoformat()}
    deps = wiring.engine_deps()
    enrollment, created = do_enroll(deps, parse_enrollment(clinic, payload, deps), actor=OPERATOR)
    typer.echo(f"enrollment {enrollment.id}: {'created' if created else 'already enrolled, unchanged'}")


@enrollment_app.command("pause")
@guarded
def enrollment_pause(enrollment_id: EnrollmentId) -> None:
    """Stop sending until resumed (exit 1 for an enrollment that ended)."""
    _act("pause", enrollment_id)


@enrollment_app.command("resume")
@guarded
def enrollment_resume(enrollment_id: EnrollmentId) -> None:
    """Continue a paused enrollment; what fell due meanwhile is due now (exit 1 if it ended)."""
    _act("resume", enrollment_id)


@enrollment_app.command("cancel")
@guarded
def enrollment_cancel(enrollment_id: EnrollmentId) -> None:
    """End the enrollment for good (an ended one stays as it is)."""
    _act("cancel", enrollment_id)


def _act(action: Action, eid: str) -> None:
    """The API's lifecycle functions without its clinic restriction: one line, exit 1 for an
    unknown id or (pause, resume) an ended enrollment, where the API answers 404 or 409."""
    from worker import wiring
    from worker.audit import OPERATOR
    from worker.enrollment import cancel, get_owned, pause, refuse_if_ended, resume

    settings()
    deps = wiring.engine_deps()
    before = get_owned(deps, eid, None)
    if action != "cancel":
        refuse_if_ended(before, action)
    after = {"pause": pause, "resume": resume, "cancel": cancel}[action](deps, eid, actor=OPERATOR)
    typer.echo(f"enrollment {eid}: {after.state.value}{'' if after.state != before.state else ' (unchanged)'}")
