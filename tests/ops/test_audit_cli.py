"""`caredrip patient forget --phone E164` and `caredrip audit [--enrollment ID] [--json]`, as real
subprocesses on the test's own Redis (issue 14): a number forgotten at every clinic, its opt-out
kept; every operator change recorded as `operator:cli`; never a number or a name printed."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from tests.ops.conftest import caredrip, cli_env
from tests.support.engine import KEYRING, SECRET
from worker.phi import IndexKey
from worker.store import Store, StoredReply
from worker.store.keys import enrollment_key, number_key, number_sends_key

PHONE = "+14155552671"
OTHER = "+14155552672"
AT = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def run(env: dict[str, str], *args: str) -> str:
    result = caredrip(env, *args)
    assert result.returncode == 0, result.stderr
    return result.stdout


def enroll(env: dict[str, str], clinic: str, ref: str, phone: str, *extra: str) -> str:
    out = run(env, "enroll", "--clinic", clinic, "--patient-ref", ref, "--first-name", "Ana", "--phone", phone,
              "--timezone", "America/Chicago", "--consent", *extra)  # fmt: skip
    return out.split()[1].rstrip(":")


def reply(store: Store, rid: str, clinic: str, eid: str, number: str) -> None:
    bi = IndexKey.from_secret(SECRET).blind_index(number)
    body = "my hand feels weaker"
    store.add_reply(StoredReply(rid, clinic, eid, AT, KEYRING.seal(body, aad=rid), False, None, len(body), bi), 86400)


def test_patient_forget_removes_the_number_everywhere_and_keeps_its_opt_out(var_dir: Path, store: Store) -> None:
    env = cli_env(var_dir, CAREDRIP_SECRET_KEY=SECRET.decode())
    riverside = run(env, "clinic", "add", "Riverside").split()[1]
    hillside = run(env, "clinic", "add", "Hillside").split()[1]
    ours = enroll(env, riverside, "p-1", PHONE, "--email", "ana@example.com", "--channels", "sms,email")
    theirs = enroll(env, hillside, "h-1", PHONE)
    unrelated = enroll(env, riverside, "p-2", OTHER)
    reply(store, "R" * 22, riverside, ours, PHONE)
    reply(store, "U" * 22, "", "", PHONE)  # the operators' inbox
    reply(store, "K" * 22, riverside, unrelated, OTHER)
    store.opt_out_sms(PHONE, AT)
    bi = IndexKey.from_secret(SECRET).blind_index(PHONE)
    assert set(store.number_record(bi).enrollments) == {ours, theirs}
    store.redis.hset(number_sends_key(bi), "t0000000", 1)  # a recent send, as reserve_send.lua keeps it

    bad = caredrip(env, "patient", "forget", "--phone", "415 555 2671")
    assert bad.returncode == 2 and bad.stderr.startswith("phone:") and "2671" not in bad.stderr

    forgot = run(env, "patient", "forget", "--phone", PHONE)
    assert forgot.strip() == "forgot ***2671: enrollments 2, canceled 2, replies 2, records 1"
    for eid in (ours, theirs):
        stored = store.redis.hgetall(enrollment_key(eid))
        assert stored["st"] == "canceled" and not {"n", "ph", "em", "r", "x"} & set(stored)
        assert store.get_enrollment(eid).phone is None  # type: ignore[union-attr]  # still readable
    assert not store.redis.exists(number_key(bi), number_sends_key(bi)) and store.number_replies(bi) == []
    assert store.sms_opted_out([PHONE]) == [True]  # a STOP is still honoured
    kept = store.get_enrollment(unrelated)
    assert kept is not None and (kept.phone, kept.first_name, kept.state.value) == (OTHER, "Ana", "active")
    assert [r.id for r in store.number_replies(IndexKey.from_secret(SECRET).blind_index(OTHER))] == ["K" * 22]

    again = run(env, "patient", "forget", "--phone", PHONE)
    assert again.strip() == "nothing to remove for ***2671: already forgotten, or never known"

    entries = json.loads(run(env, "audit", "--json"))
    assert all(set(e) == {"id", "at", "actor", "action", "enrollment_id", "clinic_id", "detail"} for e in entries)
    assert {e["actor"] for e in entries} == {"operator:cli"}
    assert [(e["action"], e["enrollment_id"]) for e in entries][:2] == [("erase", None), ("erase", None)]
    assert entries[0]["detail"] == {"scope": "all", "enrollments": 0, "canceled": 0, "replies": 0, "records": 0,
                                    "notes": 0}  # fmt: skip
    assert entries[1]["detail"]["enrollments"] == 2 and entries[1]["clinic_id"] is None
    assert [e["action"] for e in entries if e["enrollment_id"] == theirs] == ["erase", "cancel", "enroll"]
    assert [e["clinic_id"] for e in entries if e["action"] == "clinic_add"] == [hillside, riverside]
    filtered = json.loads(run(env, "audit", "--enrollment", ours, "--json"))
    assert [(e["action"], e["clinic_id"]) for e in filtered] == [("erase", riverside), ("cancel", riverside),
                                                                 ("enroll", riverside)]  # fmt: skip
    table = run(env, "audit") + run(env, "audit", "--enrollment", ours)
    assert "erase" in table and ours in table and "operator:cli" in table
    assert "5552671" not in table + forgot + json.dumps(entries) and "Ana" not in table
    assert run(env, "audit", "--enrollment", "e0000000000000000000").strip() == "no entries"


def test_clinic_key_changes_are_recorded(env: dict[str, str]) -> None:
    lines = run(env, "clinic", "add", "Riverside").strip().splitlines()
    cid = lines[0].split()[1]
    key_id = run(env, "clinic", "key", "add", cid).split()[1]
    run(env, "clinic", "key", "revoke", key_id)
    run(env, "clinic", "key", "revoke", key_id)  # revoked already: no change, no entry
    run(env, "clinic", "revoke", cid)
    assert caredrip(env, "clinic", "key", "revoke", "k_000000000000").returncode == 1
    entries = json.loads(run(env, "audit", "--json"))
    assert [(e["action"], e["clinic_id"], e["detail"].get("key_id")) for e in entries] == [
        ("clinic_revoke", cid, None), ("key_revoke", cid, key_id), ("key_add", cid, key_id),
        ("clinic_add", cid, entries[-1]["detail"]["key_id"]),
    ]  # fmt: skip
    assert all(e["actor"] == "operator:cli" and e["enrollment_id"] is None for e in entries)
    assert lines[-1] not in json.dumps(entries)  # the key itself never
