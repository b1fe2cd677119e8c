"""Retention applies to every key that holds patient data (issue 14): after patients were enrolled,
texted, replied, opted out and ended, each such key expires within CAREDRIP_RETENTION_DAYS, and no
key without an expiry holds a number, a name, an email or a reply, but the SMS opt-outs."""

from __future__ import annotations

import fnmatch
from datetime import timedelta
from pathlib import Path

import redis

from tests.support.engine import make_deps, new_enrollment, run_until_idle
from worker import audit
from worker.enrollment import cancel, enroll, resume
from worker.optouts import unsubscribe_email
from worker.replies import handle_inbound
from worker.store import ClinicStore
from worker.store.keys import OPTOUT_SMS

ANA, BEA, STRANGER = "+14155552671", "+14155552672", "+14155552673"
# Keys that hold no patient data, so nothing needs to expire (worker/store/keys.py says why each).
NO_PHI = ["cd:{due:*}", "cd:{due:*}:lease", "cd:{due:*}:tok", "cd:stats:total", "cd:dispatch", "cd:clock",
          "cd:idx:*", "cd:clinic:*", "cd:clinics", "cd:clinickeys", "cd:intake:*", "cd:{e:*}:gen",
          "cd:alerts:open*", "cd:resume:patient"]  # fmt: skip
# The one kept on purpose: a STOP is honoured for as long as caredrip runs (and outlives erasure).
# Its fields are still the numbers themselves, not yet their blind indexes.
KEPT = [OPTOUT_SMS]


def test_every_key_with_patient_data_expires_within_the_retention_period(redis_url: str, tmp_path: Path) -> None:
    deps = make_deps(redis_url, tmp_path / "outbox.jsonl", caps="sms:1/day,3/week;email:2/day")
    engine = deps.engine
    clinics = ClinicStore(redis.Redis.from_url(redis_url, decode_responses=True))
    ana, _ = enroll(engine, new_enrollment("p-1", phone=ANA, email="ana@example.com"), actor=audit.OPERATOR)
    bea, _ = enroll(engine, new_enrollment("p-2", first_name="Beatriz", phone=BEA, channels=("sms",), email=None))
    run_until_idle(deps, until=engine.clock.now() + timedelta(days=3))
    now = engine.clock.now()
    handle_inbound(engine, clinics, ANA, "chest pain since the new pills", now, message_sid="SM1")
    resume(engine, ana.id)  # the reply was a red flag: the clinic called her back and resumed
    handle_inbound(engine, clinics, STRANGER, "who is this", now, message_sid="SM2")
    handle_inbound(engine, clinics, BEA, "STOP", now, message_sid="SM3")
    unsubscribe_email(engine.store, ana.id, now)
    run_until_idle(deps, until=now + timedelta(days=40))  # Ana's program runs to its end
    cancel(engine, bea.id)
    assert engine.store.get_enrollment(ana.id).state.value == "completed"  # type: ignore[union-attr]

    client, retention_ms = engine.store.redis, engine.retention_days * 86400 * 1000
    secrets = ("4155552671", "4155552672", "4155552673", "Ana", "Beatriz", "ana@example.com", "chest pain")
    checked = 0
    for key in client.scan_iter("cd:*"):
        ttl = client.pttl(key)
        if key in KEPT or any(fnmatch.fnmatchcase(key, pattern) for pattern in NO_PHI):
            continue
        checked += 1
        assert 0 < ttl <= retention_ms, (key, ttl)
    assert checked >= 8  # enrollments, records, recipients, replies, inboxes, the audit trail
    for key in client.scan_iter("cd:*"):
        if client.pttl(key) == -1 and key not in KEPT:
            assert not any(s in _dump(client, key) for s in secrets), key


def _dump(client: redis.Redis, key: str) -> str:
    kind = client.type(key)
    if kind == "hash":
        return repr(client.hgetall(key))
    if kind == "zset":
        return repr(client.zrange(key, 0, -1))
    if kind == "list":
        return repr(client.lrange(key, 0, -1))
    if kind == "set":
        return repr(client.smembers(key))
    if kind == "stream":
        return repr(client.xrange(key))
    return repr(client.get(key))
