"""A clinic holds several keys: a leaked one is rotated without orphaning running enrollments, and
revoking the clinic still stops every key (issue 13, item 15)."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from starlette.testclient import TestClient

from tests.api.conftest import enrollment_body
from tests.trust.helpers import as_clinic
from worker.clinics import add_key, authenticate, get_clinic, list_clinics, list_keys, revoke_clinic, revoke_key
from worker.clock import FixedClock
from worker.errors import Conflict, NotFound
from worker.store import ClinicStore
from worker.store.keys import CLINIC_KEYS, CLINICS, clinic_key
from worker.tokens import hash_key, key_id


def test_a_leaked_key_is_rotated_and_the_enrollments_go_on(
    api: FastAPI, client: TestClient, clinic: tuple[str, str], clinic_store: ClinicStore, clock: FixedClock
) -> None:
    cid, leaked = clinic
    eid = client.post("/v1/enrollments", json=enrollment_body()).json()["id"]
    added, fresh = add_key(clinic_store, cid, clock.now())
    assert added.clinic_id == cid and added.active and fresh != leaked
    assert authenticate(clinic_store, fresh) == cid == authenticate(clinic_store, leaked)  # both work meanwhile
    old = key_id(hash_key(leaked))  # whoever holds a key can tell its id
    assert revoke_key(clinic_store, old, clock.now()).revoked_at == clock.now()
    assert client.get(f"/v1/enrollments/{eid}").status_code == 401  # the leaked key, at once
    with as_clinic(api, fresh) as rotated:
        got = rotated.get(f"/v1/enrollments/{eid}")
        assert (got.status_code, got.json()["state"]) == (200, "active")
        assert rotated.post("/v1/enrollments", json=enrollment_body()).status_code == 200  # the same enrollment
    assert {k.id: k.active for k in list_keys(clinic_store, cid)} == {old: False, added.id: True}


def test_revoking_the_clinic_stops_every_key_and_it_gets_no_new_one(
    clinic: tuple[str, str], clinic_store: ClinicStore, clock: FixedClock
) -> None:
    cid, first = clinic
    _, second = add_key(clinic_store, cid, clock.now())
    assert revoke_clinic(clinic_store, cid, clock.now())
    assert authenticate(clinic_store, first) is None and authenticate(clinic_store, second) is None
    assert all(not k.active for k in get_clinic(clinic_store, cid).keys)
    with pytest.raises(Conflict):
        add_key(clinic_store, cid, clock.now())
    assert len(list_keys(clinic_store, cid)) == 2


def test_keys_are_known_by_id_only_and_unknown_ones_are_refused(
    clinic: tuple[str, str], clinic_store: ClinicStore, clock: FixedClock
) -> None:
    cid, key = clinic
    info, another = add_key(clinic_store, cid, clock.now())
    stored = str(clinic_store.redis.hgetall(clinic_key(cid)))
    assert key not in stored and another not in stored
    listed = list_clinics(clinic_store)[0].keys
    assert {k.id for k in listed} == {key_id(hash_key(key)), info.id}
    assert all(k.id.startswith("k_") and k.id[2:] not in (key, another) for k in listed)
    with pytest.raises(NotFound):
        add_key(clinic_store, "c_00000000", clock.now())
    for unknown in ("k_000000000000", "nonsense", ""):
        with pytest.raises(NotFound):
            revoke_key(clinic_store, unknown, clock.now())
    assert revoke_key(clinic_store, info.id, clock.now()) == revoke_key(clinic_store, info.id, clock.now())


def test_a_clinic_added_before_key_ids_has_its_key_listed_and_revocable(
    clinic_store: ClinicStore, clock: FixedClock
) -> None:
    """A clinic hash as earlier versions wrote it: one `key` field holding the key's sha256."""
    key, cid = "cdk_legacy-key-0123456789", "c_0ld0ld00"
    legacy_row = {"name": "Old Clinic", "created": "1767225600", "key": hash_key(key)}
    clinic_store.redis.hset(clinic_key(cid), mapping=legacy_row)  # type: ignore[arg-type]
    clinic_store.redis.hset(CLINIC_KEYS, hash_key(key), cid)
    clinic_store.redis.sadd(CLINICS, cid)
    assert authenticate(clinic_store, key) == cid
    [legacy] = list_keys(clinic_store, cid)
    assert legacy.id == key_id(hash_key(key)) and legacy.active
    _, fresh = add_key(clinic_store, cid, clock.now())
    revoke_key(clinic_store, legacy.id, clock.now())
    assert authenticate(clinic_store, key) is None and authenticate(clinic_store, fresh) == cid
    assert sorted(k.active for k in list_keys(clinic_store, cid)) == [False, True]
