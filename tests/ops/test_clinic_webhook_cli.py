"""`caredrip clinic webhook CLINIC_ID URL` as a real subprocess: the signing secret on its last
line (stored sealed), a bad URL refused naming `url`, `--remove`."""

from __future__ import annotations

from pathlib import Path

from tests.ops.conftest import caredrip
from worker.phi import load_or_create_keyring
from worker.store import Store

HOOK = "https://clinic.example/caredrip/events"


def test_clinic_webhook_prints_the_secret_last_and_keeps_it_sealed(
    env: dict[str, str], var_dir: Path, store: Store
) -> None:
    clinic_id = caredrip(env, "clinic", "add", "Riverside").stdout.splitlines()[0].split()[1]
    done = caredrip(env, "clinic", "webhook", clinic_id, HOOK)
    assert done.returncode == 0, done.stderr
    secret = done.stdout.splitlines()[-1]
    assert secret.startswith("whsec_") and len(secret) > 40
    assert HOOK in done.stdout
    row = store.redis.hgetall(f"cd:clinic:{clinic_id}")
    assert row["webhook_url"] == HOOK and secret not in row.values()
    keyring = load_or_create_keyring(var_dir, None, "development")
    assert keyring.open(str(row["webhook_secret"]), aad=clinic_id) == secret
    again = caredrip(env, "clinic", "webhook", clinic_id, HOOK).stdout.splitlines()[-1]
    assert again.startswith("whsec_") and again != secret
    assert '"webhook_url": "https://clinic.example/caredrip/events"' in caredrip(env, "clinic", "list", "--json").stdout

    bad = caredrip(env, "clinic", "webhook", clinic_id, "ftp://clinic.example/x")
    assert bad.returncode == 2 and bad.stderr.startswith("url:")
    assert store.redis.hget(f"cd:clinic:{clinic_id}", "webhook_url") == HOOK  # unchanged

    missing = caredrip(env, "clinic", "webhook", "c_nothere", HOOK)
    assert missing.returncode == 1 and "no clinic" in missing.stderr

    removed = caredrip(env, "clinic", "webhook", clinic_id, "--remove")
    assert removed.returncode == 0 and "removed" in removed.stdout
    assert store.redis.hget(f"cd:clinic:{clinic_id}", "webhook_url") is None
