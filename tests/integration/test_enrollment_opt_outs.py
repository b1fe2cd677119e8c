"""An enrollment's opt-outs as its view shows them (GET/POST /v1/enrollments), read in one round
trip: the number's SMS opt-out (by its blind index) and the enrollment's own (email unsubscribe)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from tests.support.engine import make_deps, new_enrollment
from worker.enrollment import enroll
from worker.optouts import enrollment_opt_outs, opt_out_sms, unsubscribe_email
from worker.records import OptOutSource


def test_a_view_reads_the_numbers_opt_out_and_the_enrollments_own_together(redis_url: str, tmp_path: Path) -> None:
    deps = make_deps(redis_url, tmp_path / "outbox.jsonl").engine
    store, now = deps.store, deps.clock.now()
    texted, _ = enroll(deps, new_enrollment("p-1", phone="+14155550101", email="a@example.com"))
    mailed, _ = enroll(deps, new_enrollment("p-2", phone="+14155550102", email="b@example.com"))
    no_phone, _ = enroll(deps, new_enrollment("p-3", phone=None, channels=("email",), email="c@example.com"))
    assert enrollment_opt_outs(store, texted) == {"sms": None, "email": None}
    opt_out_sms(store, "+14155550101", now, OptOutSource.STOP)
    unsubscribe_email(store, mailed.id, now + timedelta(seconds=1))
    unsubscribe_email(store, no_phone.id, now)
    store.redis.config_resetstat()
    views = [enrollment_opt_outs(store, e) for e in (texted, mailed, no_phone)]
    calls = store.redis.info("commandstats")
    sms, email = views[0]["sms"], views[1]["email"]
    assert sms is not None and sms.source is OptOutSource.STOP and views[0]["email"] is None
    assert email is not None and email.source is OptOutSource.UNSUBSCRIBE and views[1]["sms"] is None
    assert views[2]["sms"] is None and views[2]["email"] is not None
    assert calls["cmdstat_hmget"]["calls"] == 5  # two a view (the enrollment's, the number's); none for no number
