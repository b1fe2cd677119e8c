"""`caredrip keys rotate` as a function: records under an old key, plain ones from before sealing,
and changes landing mid-rotation, against a real Redis."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import pytest

from tests.support.engine import INDEX, make_deps, new_enrollment
from worker.clinics import add_clinic, register_webhook
from worker.deps import EngineDeps
from worker.enrollment import EnrollmentChanges, build_enrollment, enroll, update
from worker.inbox import record_reply
from worker.phi import Keyring, UnknownKeyError
from worker.rotation import rotate
from worker.store import ClinicStore, Reseal, Store
from worker.store.codec import ERASABLE, PHI_FIELDS, SEALED, encode_enrollment_unsealed
from worker.store.keys import OPTOUT_SMS, clinic_key, enrollment_key, reply_key
from worker.store.ops import Call, ScriptCall

T = TypeVar("T")

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
OLD = Keyring.generate()
NEW = OLD.rotated()  # a fresh key first, the old one kept to open what it sealed
ONLY_NEW = Keyring(NEW.keys[:1])


class Interleaved(Store):
    """The real store; just before it sends the compare-and-set writing the details of an
    enrollment listed in `meanwhile`, that entry's action runs once (another process changing the
    record between the store's read and its write)."""

    def __init__(self, inner: Store, meanwhile: dict[str, Callable[[], object]]) -> None:
        super().__init__(inner.redis, inner.keyring, inner.index)
        self._meanwhile = {enrollment_key(eid): action for eid, action in meanwhile.items()}

    def _call(self, call: Call[T]) -> T:
        for op in call.ops:
            if isinstance(op, ScriptCall) and op.script == "cas":
                action = self._meanwhile.pop(op.keys[0], None)
                if action is not None:
                    action()
        return super()._call(call)


def engine_with(deps: EngineDeps, keyring: Keyring) -> EngineDeps:
    """The same Redis and index key, sealing under `keyring`."""
    return dataclasses.replace(deps, keyring=keyring, store=Store(deps.store.redis, keyring, INDEX))


@pytest.fixture
def old_engine(redis_url: str, tmp_path: Path) -> EngineDeps:
    return engine_with(make_deps(redis_url, tmp_path / "outbox.jsonl").engine, OLD)


def enrolled(engine: EngineDeps, i: int, **overrides: object) -> str:
    new = new_enrollment(f"MRN-{i:04d}", first_name=f"Pat{i}", phone=f"+1415555{i:04d}", **overrides)
    return enroll(engine, new)[0].id


def test_rotation_reseals_everything_under_the_new_key_and_a_second_run_finds_nothing(
    old_engine: EngineDeps,
) -> None:
    eids = [enrolled(old_engine, i) for i in range(5)]
    replies = [record_reply(old_engine, "c_test", eids[0], f"reply {i}", NOW, number="+14155550000") for i in range(3)]
    legacy = build_enrollment(old_engine, new_enrollment("MRN-LEGACY", first_name="Leg", phone="+14155559999"), NOW)
    old_engine.store.redis.hset(enrollment_key(legacy.id), mapping=encode_enrollment_unsealed(legacy))  # type: ignore[arg-type]
    old_engine.store.redis.hset(OPTOUT_SMS, "+14155558888", "1772463600|stop")  # stored before blind indexes
    clinics = ClinicStore(old_engine.store.redis)
    cid, _key = add_clinic(clinics, "Riverside", "+14155550100", "desk@riverside.example", NOW)
    _url, secret = register_webhook(clinics, OLD, cid, "https://riverside.example/hooks", production=False)

    new_engine = engine_with(old_engine, NEW)
    report = rotate(new_engine.store, page=10)

    assert report.enrollments == {Reseal.RESEALED: 5, Reseal.SEALED: 1}
    assert report.replies == {Reseal.RESEALED: 3}
    assert report.webhook_secrets == {Reseal.RESEALED: 1}
    assert ONLY_NEW.open(str(old_engine.store.redis.hget(clinic_key(cid), "webhook_secret")), aad=cid) == secret
    assert report.opt_outs_moved == 1 and report.complete and report.kid == NEW.keys[0].kid
    # nothing is left that needs the old key: a keyring without it reads everything
    only_new = engine_with(old_engine, ONLY_NEW)
    stored = only_new.store.get_enrollments([*eids, legacy.id])
    assert [(e.first_name, e.patient_ref) for e in stored if e] == [
        *((f"Pat{i}", f"MRN-{i:04d}") for i in range(5)),
        ("Leg", "MRN-LEGACY"),
    ]
    assert [ONLY_NEW.open(str(only_new.store.redis.hget(reply_key(r.id), "b")), aad=r.id) for r in replies] == [
        "reply 0", "reply 1", "reply 2"
    ]  # fmt: skip
    legacy_hash = only_new.store.redis.hgetall(enrollment_key(legacy.id))
    assert SEALED in legacy_hash and not set(PHI_FIELDS) & set(legacy_hash)
    assert only_new.store.redis.hkeys(OPTOUT_SMS) == [INDEX.blind_index("+14155558888")]
    assert only_new.store.sms_opted_out(["+14155558888"]) == [True]

    again = rotate(new_engine.store, page=7)
    assert again.enrollments == {Reseal.CURRENT: 6} and again.replies == {Reseal.CURRENT: 3}
    assert again.webhook_secrets == {Reseal.CURRENT: 1}
    assert again.opt_outs_moved == 0 and again.complete


def test_a_patch_landing_mid_rotation_is_kept_and_an_erasure_is_not_undone(old_engine: EngineDeps) -> None:
    patched, erased, plain = (enrolled(old_engine, i) for i in range(3))
    change = EnrollmentChanges(first_name="Renamed", email="renamed@example.com")

    def erase() -> None:  # what the erasure does to an enrollment's details
        old_engine.store.redis.hdel(enrollment_key(erased), *ERASABLE)

    meanwhile: dict[str, Callable[[], object]] = {
        # a process not yet restarted (still sealing under the old key) PATCHes the patient
        patched: lambda: update(old_engine, patched, change),
        erased: erase,
    }
    new_engine = engine_with(old_engine, NEW)
    racing = Interleaved(new_engine.store, meanwhile)
    report = rotate(racing, page=10)

    assert not racing._meanwhile, "each change ran between the rotation's read and its write"
    assert report.enrollments == {Reseal.RESEALED: 2, Reseal.EMPTY: 1} and report.complete
    only_new = engine_with(old_engine, ONLY_NEW).store
    got = {e.id: e for e in only_new.get_enrollments([patched, erased, plain]) if e}
    assert (got[patched].first_name, got[patched].email, got[patched].patient_ref) == (
        "Renamed", "renamed@example.com", "MRN-0000"
    )  # fmt: skip
    assert (got[erased].first_name, got[erased].phone, got[erased].email, got[erased].patient_ref) == (
        "",
        None,
        None,
        "",
    )
    assert not set(ERASABLE) & set(only_new.redis.hkeys(enrollment_key(erased)))
    assert got[plain].first_name == "Pat2"


def test_a_token_under_a_key_no_longer_in_the_keyring_is_reported_not_lost(old_engine: EngineDeps) -> None:
    eid = enrolled(old_engine, 1)
    before = old_engine.store.redis.hget(enrollment_key(eid), SEALED)
    report = rotate(engine_with(old_engine, ONLY_NEW).store)
    assert report.unreadable == [eid] and not report.complete
    assert old_engine.store.redis.hget(enrollment_key(eid), SEALED) == before
    with pytest.raises(UnknownKeyError):
        engine_with(old_engine, ONLY_NEW).store.get_enrollment(eid)


def test_a_patch_seals_the_whole_token_anew_and_keeps_the_patient_ref(old_engine: EngineDeps) -> None:
    eid = enrolled(old_engine, 7)
    new_engine = engine_with(old_engine, NEW)
    update(new_engine, eid, EnrollmentChanges(phone="+14155550777"))
    row = new_engine.store.redis.hgetall(enrollment_key(eid))
    token = str(row[SEALED])
    assert not NEW.needs_rotation(token) and not set(PHI_FIELDS) & set(row)
    assert NEW.open_fields(token, aad=eid) == {
        "n": "Pat7", "ph": "+14155550777", "em": "ana@example.com", "r": "MRN-0007"
    }  # fmt: skip


def test_a_patch_racing_another_patch_writes_a_whole_token_after_it(old_engine: EngineDeps) -> None:
    eid = enrolled(old_engine, 8)
    other = EnrollmentChanges(first_name="Other", email="other@example.com")
    racing = Interleaved(old_engine.store, {eid: lambda: update(old_engine, eid, other)})
    update(dataclasses.replace(old_engine, store=racing), eid, EnrollmentChanges(phone="+14155550888"))
    got = old_engine.store.get_enrollment(eid)
    assert got is not None
    # the first write lost the compare-and-set; its retry sealed over the other PATCH's token
    assert (got.first_name, got.phone, got.email, got.patient_ref) == (
        "Pat8",
        "+14155550888",
        "ana@example.com",
        "MRN-0008",
    )
