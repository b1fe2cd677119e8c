"""Patient data at rest: after a whole program for several patients (SMS, email, a STOP, a reply,
an email unsubscribe, a PATCH), neither Redis's AOF nor its RDB dump holds, byte for byte, any
patient's first name, phone number (E.164, national format, digits only), email address or reply
text, nor a secret. The outbox (var/outbox.jsonl) is the one plaintext copy, in development only."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import phonenumbers
import pytest
import redis

from tests.support.engine import KEYRING, SECRET, make_deps, new_enrollment, outbox_lines, run_until_idle
from tests.support.redis_fixture import wait_until
from worker.delivery.types import DeliveryDeps
from worker.enrollment import EnrollmentChanges, enroll, update
from worker.optouts import unsubscribe_email
from worker.phi import text
from worker.redis_process import RedisServer
from worker.replies import handle_inbound
from worker.store import ClinicStore
from worker.store.keys import enrollment_key


@dataclass(frozen=True)
class Patient:
    ref: str
    first_name: str
    phone: str | None
    email: str | None
    channels: tuple[str, ...]


# Names of 6+ letters: a shorter one could turn up by chance inside base64 tokens.
PATIENTS = (
    Patient("MRN-7001", "Zebulon", "+14155550123", "zebulon.quade@example.com", ("sms", "email")),
    Patient("MRN-7002", "Philippa", "+442079460958", None, ("sms",)),
    Patient("MRN-7003", "Florentina", "+13125550187", "florentina.voss@example.org", ("sms", "email")),
    Patient("MRN-7004", "Bartholomew", None, "bart.whitlock@example.net", ("email",)),
)
NEW_EMAIL = "zebulon.new-address@example.com"  # PATCHed in mid-program
REPLY = "my left eyelid keeps twitching since tuesday"
UNMATCHED_REPLY = "wrong number, who is sending these texts"
STRANGER = "+16465550142"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RedisServer]:
    """A private Redis writing an AOF, its RDB uncompressed (LZF would hide strings from the scan)."""
    with RedisServer.on_free_port(tmp_path / "redis", appendonly=True) as server:
        client = redis.Redis.from_url(server.url)
        client.config_set("rdbcompression", "no")
        client.config_set("hash-max-ziplist-value", 256)  # as caredrip runs its Redis
        client.close()
        yield server


def forbidden(deps: DeliveryDeps) -> dict[str, bytes]:
    """Every string that must not be at rest, by what it is."""
    found: dict[str, bytes] = {}
    for p in PATIENTS:
        found[f"{p.ref} first name"] = p.first_name.encode()
        if p.email:
            found[f"{p.ref} email"] = p.email.encode()
        if p.phone:
            parsed = phonenumbers.parse(p.phone)
            national = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
            found[f"{p.ref} phone E.164"] = p.phone.encode()
            found[f"{p.ref} phone national"] = national.encode()
            found[f"{p.ref} phone digits"] = p.phone[1:].encode()
            found[f"{p.ref} phone national digits"] = str(parsed.national_number).encode()
    found["patched email"] = NEW_EMAIL.encode()
    found["stranger's phone"] = STRANGER.encode()
    found["reply"] = REPLY.encode()
    found["unmatched reply"] = UNMATCHED_REPLY.encode()
    found["installation secret"] = SECRET
    for key in KEYRING.keys:
        found[f"data key {key.kid}"] = key.secret
        found[f"data key {key.kid} text"] = text.encode(key.secret).encode()
    found["data keys setting"] = KEYRING.to_setting().encode()
    return found


def play_program(deps: DeliveryDeps, clinics: ClinicStore) -> dict[str, str]:
    """Enroll everyone, run the four weeks with a STOP, a reply, an unsubscribe and a PATCH; ids by ref."""
    engine = deps.engine
    ids = {}
    for p in PATIENTS:
        new = new_enrollment(p.ref, first_name=p.first_name, phone=p.phone, email=p.email, channels=p.channels)
        ids[p.ref] = enroll(engine, new)[0].id
    clock = engine.clock
    run_until_idle(deps, until=clock.now() + timedelta(days=3))
    now = clock.now()
    assert handle_inbound(engine, clinics, "+14155550123", REPLY, now, message_sid="SM-reply").action == "stored"
    assert handle_inbound(engine, clinics, "+442079460958", "STOP", now, message_sid="SM-stop").action == "opted_out"
    assert handle_inbound(engine, clinics, STRANGER, UNMATCHED_REPLY, now, message_sid="SM-x").action == "unmatched"
    unsubscribe_email(engine.store, ids["MRN-7003"], now)
    update(engine, ids["MRN-7001"], EnrollmentChanges(email=NEW_EMAIL))
    run_until_idle(deps)
    return ids


def test_no_patient_data_nor_secret_in_the_aof_or_the_rdb(server: RedisServer, tmp_path: Path) -> None:
    outbox = tmp_path / "outbox.jsonl"
    deps = make_deps(server.url, outbox)
    client = redis.Redis.from_url(server.url, decode_responses=True)
    ids = play_program(deps, ClinicStore(client))

    # the program really ran, with these patients' details: the outbox (development's plain copy) has them
    sent = outbox_lines(outbox)
    assert {line["to"] for line in sent} >= {"+14155550123", "+13125550187", NEW_EMAIL, "bart.whitlock@example.net"}
    assert any("Zebulon" in line["body"] for line in sent)
    assert deps.engine.store.get_enrollment(ids["MRN-7001"]).email == NEW_EMAIL  # type: ignore[union-attr]
    assert deps.engine.store.sms_opted_out(["+442079460958"]) == [True]

    client.save()
    client.close()
    server.stop()  # SIGTERM: the AOF is flushed
    scan(server.data_dir, deps, ids["MRN-7001"])  # the AOF as the commands came, and the dump

    server.start()  # the AOF replays; then rewritten: its base is a whole (uncompressed) RDB of the data
    client = redis.Redis.from_url(server.url, decode_responses=True)
    assert client.hget(enrollment_key(ids["MRN-7001"]), "c") == "c_test"
    client.bgrewriteaof()
    wait_until(lambda: not int(client.info("persistence")["aof_rewrite_in_progress"]) and
               not int(client.info("persistence")["aof_rewrite_scheduled"]))  # fmt: skip
    client.close()
    server.stop()
    scan(server.data_dir, deps, ids["MRN-7001"])


def scan(data_dir: Path, deps: DeliveryDeps, eid: str) -> None:
    """Every file Redis keeps holds none of the forbidden strings; the dump and the AOF taken
    together do hold the records (the scan reads real, uncompressed data)."""
    files = [f for f in data_dir.rglob("*") if f.is_file() and f.name not in ("redis.pid", "redis.log")]
    dump = [f.read_bytes() for f in files if f.name == "dump.rdb"]
    aof = b"".join(f.read_bytes() for f in files if ".aof" in f.name and "manifest" not in f.name)
    assert dump and aof, f"expected an RDB dump and AOF files, found {[f.name for f in files]}"
    for data in (dump[0], aof):
        assert eid.encode() in data and b"c_test" in data and b"twitching" in data
    for f in files:
        data = f.read_bytes()
        leaked = [what for what, value in forbidden(deps).items() if value in data]
        assert not leaked, f"{f.name} holds {leaked}"
