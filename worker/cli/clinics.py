"""`caredrip clinic add|list|revoke|webhook` and `caredrip clinic key add|revoke|list`: clinics, their
API keys and webhooks (a key or a signing secret is printed once, alone on the last line; only key
ids are shown after that)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from worker.cli.base import JsonOption, app, fail, guarded, iso, now, print_json, settings

if TYPE_CHECKING:
    from worker.audit import Trail
    from worker.clinics import KeyInfo

clinic_app = typer.Typer(no_args_is_help=True, help="Add, list and revoke clinics and their API keys.")
key_app = typer.Typer(no_args_is_help=True, help="A clinic's API keys: add one, revoke one, list them.")
app.add_typer(clinic_app, name="clinic")
clinic_app.add_typer(key_app, name="key")

ClinicId = Annotated[str, typer.Argument(metavar="CLINIC_ID", help="Clinic id.")]
KeyId = Annotated[str, typer.Argument(metavar="KEY_ID", help="Key id (k_…, see `caredrip clinic key list`).")]
KEY_HINT = "API key (shown once; use it as `Authorization: Bearer <key>`):"
SECRET_HINT = "Signing secret (shown once; verify each event's Caredrip-Signature with it):"


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

    settings()
    clinic_id, key = add_clinic(wiring.clinics(), name, phone, email, now(), audit=_trail())
    typer.echo(f"clinic {clinic_id} added: {name}")
    typer.echo(KEY_HINT)
    typer.echo(key)


@clinic_app.command("list")
@guarded
def clinic_list(json_out: JsonOption = False) -> None:
    """Every clinic, revoked ones included, with its keys' ids (never the keys)."""
    from worker import wiring
    from worker.clinics import list_clinics

    settings()
    rows: list[dict[str, Any]] = [
        {"id": c.id, "name": c.name, "phone": c.phone, "email": c.email,
         "created_at": iso(c.created_at), "revoked_at": iso(c.revoked_at), "keys": [_key_row(k) for k in c.keys],
         "webhook_url": c.webhook_url or None}
        for c in list_clinics(wiring.clinics())
    ]  # fmt: skip
    if json_out:
        print_json(rows)
        return
    typer.echo(f"{'id':<12} {'status':<8} {'keys':<5} {'name':<32} {'phone':<16} email")
    for r in rows:
        status = "revoked" if r["revoked_at"] else "active"
        working = sum(1 for k in r["keys"] if not k["revoked_at"])
        typer.echo(f"{r['id']:<12} {status:<8} {working:<5} {r['name'][:32]:<32} {r['phone']:<16} {r['email']}")


@clinic_app.command("revoke")
@guarded
def clinic_revoke(clinic_id: Annotated[str, typer.Argument(metavar="ID", help="Clinic id.")]) -> None:
    """Revoke a clinic and every key it holds, at once (its enrollments keep running)."""
    from worker import wiring
    from worker.clinics import revoke_clinic

    settings()
    if not revoke_clinic(wiring.clinics(), clinic_id, now(), audit=_trail()):
        fail(f"no clinic {clinic_id}", 1)
    typer.echo(f"clinic {clinic_id} revoked")


@clinic_app.command("webhook")
@guarded
def clinic_webhook(
    clinic_id: ClinicId,
    url: Annotated[str | None, typer.Argument(metavar="URL", help="Where to POST events (https://…).")] = None,
    remove: Annotated[bool, typer.Option("--remove", help="Remove the clinic's webhook instead.")] = False,
) -> None:
    """Register the clinic's webhook; a new signing secret is printed once, alone on the last line."""
    from worker import wiring
    from worker.clinics import register_webhook, remove_webhook

    s = settings()
    if remove:
        remove_webhook(wiring.clinics(), clinic_id)
        typer.echo(f"webhook of clinic {clinic_id} removed")
        return
    if url is None:
        fail("url: give the webhook URL (or --remove)", 2)
    checked, secret = register_webhook(
        wiring.clinics(), wiring.engine_deps().keyring, clinic_id, url, production=s.env == "production"
    )
    typer.echo(f"webhook of clinic {clinic_id}: {checked}")
    typer.echo(SECRET_HINT)
    typer.echo(secret)


@key_app.command("add")
@guarded
def key_add(clinic_id: ClinicId) -> None:
    """Give the clinic one more key (its other keys keep working); printed once, on the last line."""
    from worker import wiring
    from worker.clinics import add_key

    settings()
    info, key = add_key(wiring.clinics(), clinic_id, now(), audit=_trail())
    typer.echo(f"key {info.id} added to clinic {clinic_id}")
    typer.echo(KEY_HINT)
    typer.echo(key)


@key_app.command("revoke")
@guarded
def key_revoke(key_id: KeyId) -> None:
    """Revoke one key at once; the clinic's other keys and its enrollments go on."""
    from worker import wiring
    from worker.clinics import revoke_key

    settings()
    info = revoke_key(wiring.clinics(), key_id, now(), audit=_trail())
    typer.echo(f"key {info.id} of clinic {info.clinic_id} revoked")


@key_app.command("list")
@guarded
def key_list(clinic_id: ClinicId, json_out: JsonOption = False) -> None:
    """The clinic's keys by id, revoked ones included (never the keys)."""
    from worker import wiring
    from worker.clinics import list_keys

    settings()
    rows = [_key_row(k) for k in list_keys(wiring.clinics(), clinic_id)]
    if json_out:
        print_json(rows)
        return
    typer.echo(f"{'id':<16} {'status':<8} {'created':<26} revoked")
    for r in rows:
        status = "revoked" if r["revoked_at"] else "active"
        typer.echo(f"{r['id']:<16} {status:<8} {r['created_at'] or '':<26} {r['revoked_at'] or ''}")


def _key_row(key: KeyInfo) -> dict[str, Any]:
    return {"id": key.id, "created_at": iso(key.created_at), "revoked_at": iso(key.revoked_at)}


def _trail() -> Trail:
    """Where the clinic commands record their changes: the audit trail, as `operator:cli`."""
    from worker import wiring
    from worker.audit import Trail

    return Trail(wiring.clock(), wiring.store(), settings().retention_days)
