"""`caredrip keys rotate` as a real subprocess: an enrollment sealed under the old key comes out
under the new one, a second run finds nothing to do, and the old key can then leave the keyring."""

from __future__ import annotations

import json
from pathlib import Path

import redis

from tests.ops.conftest import caredrip, cli_env, var_store
from worker.phi import Keyring
from worker.redis_server import ensure_embedded
from worker.store.keys import enrollment_key

OLD = Keyring.generate()
NEW = OLD.rotated()


def test_keys_rotate_reseals_under_the_first_key_and_reruns_as_a_no_op(var_dir: Path) -> None:
    before = cli_env(var_dir, CAREDRIP_DATA_KEYS=OLD.to_setting())
    cid = caredrip(before, "clinic", "add", "Riverside Family Clinic").stdout.splitlines()[0].split()[1]
    enrolled = caredrip(before, "enroll", "--clinic", cid, "--patient-ref", "MRN-0042", "--first-name", "Ana",
                        "--timezone", "America/New_York", "--phone", "+14155552671", "--consent")  # fmt: skip
    assert enrolled.returncode == 0, enrolled.stderr
    client = redis.Redis.from_url(ensure_embedded(var_dir).url, decode_responses=True)
    (key,) = client.keys("cd:{e:*}")
    eid = str(key)[len("cd:{e:") : -1]
    assert OLD.open_fields(str(client.hget(key, "x")), aad=eid)["n"] == "Ana"

    after = cli_env(var_dir, CAREDRIP_DATA_KEYS=NEW.to_setting())
    first = caredrip(after, "keys", "rotate")
    assert first.returncode == 0, first.stderr
    assert "enrollments: 1 resealed, 0 sealed, 0 current, 0 empty" in first.stdout.splitlines()
    assert first.stdout.splitlines()[-1] == f"complete: everything readable is sealed under key id {NEW.keys[0].kid}"

    only_new = var_store(var_dir, client)
    only_new.keyring = Keyring(NEW.keys[:1])
    stored = only_new.get_enrollment(eid)
    assert stored is not None and (stored.first_name, stored.phone, stored.patient_ref) == (
        "Ana",
        "+14155552671",
        "MRN-0042",
    )
    assert not {"n", "ph", "r"} & set(client.hkeys(enrollment_key(eid)))

    second = caredrip(after, "keys", "rotate")
    assert second.returncode == 0 and "enrollments: 0 resealed, 0 sealed, 1 current, 0 empty" in second.stdout
    audited = caredrip(after, "audit", "--json")
    runs = [e for e in json.loads(audited.stdout) if e["action"] == "keys_rotate"]
    assert [(e["actor"], e["detail"]["key_id"], e["detail"]["complete"]) for e in runs] == [
        ("operator:cli", NEW.keys[0].kid, True)
    ] * 2
    assert runs[1]["detail"]["enrollments_resealed"] == 1  # newest first: the first run re-sealed Ana
    client.close()


def test_keys_rotate_without_the_old_key_exits_1_and_names_the_record(var_dir: Path) -> None:
    before = cli_env(var_dir, CAREDRIP_DATA_KEYS=OLD.to_setting())
    cid = caredrip(before, "clinic", "add", "Riverside Family Clinic").stdout.splitlines()[0].split()[1]
    caredrip(before, "enroll", "--clinic", cid, "--patient-ref", "MRN-0043", "--first-name", "Ana",
             "--timezone", "America/New_York", "--phone", "+14155552672", "--consent")  # fmt: skip
    lost = caredrip(cli_env(var_dir, CAREDRIP_DATA_KEYS=Keyring(NEW.keys[:1]).to_setting()), "keys", "rotate")
    assert lost.returncode == 1
    assert any(line.startswith("unreadable (key missing or altered): 1: ") for line in lost.stdout.splitlines())
    assert lost.stderr.strip().endswith("run again, or restore the missing key")
