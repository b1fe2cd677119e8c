"""`caredrip alerts [--json]` and `caredrip alerts ack`, as a real subprocess: open red-flag alerts with
clinic, enrollment, reply id and age; a masked number for the operators' inbox; never a reply's text."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from tests.ops.conftest import caredrip
from tests.support.engine import KEYRING
from worker.store import Store, StoredAlert, StoredReply


def test_alerts_lists_open_alerts_and_ack_closes_one(env: dict[str, str], store: Store) -> None:
    assert caredrip(env, "alerts").stdout.strip() == "no open alerts"
    assert json.loads(caredrip(env, "alerts", "--json").stdout) == []
    an_hour_ago = (datetime.now(UTC) - timedelta(hours=1)).replace(microsecond=0)
    body = "I can't breathe, this is Ana"
    stray, clinics = "S" * 22, "C" * 22
    store.add_reply(
        StoredReply(stray, "", "", an_hour_ago, KEYRING.seal(body, aad=stray), True, None, len(body), "bi", "***2671"),
        86400,
    )
    store.raise_alert(StoredAlert(stray, "", "", an_hour_ago), 86400)
    store.raise_alert(StoredAlert(clinics, "c_12345678", "e" * 20, an_hour_ago + timedelta(minutes=30)), 86400)

    listed = caredrip(env, "alerts", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert [(r["reply_id"], r["clinic_id"], r["enrollment_id"], r["from"]) for r in rows] == [
        (stray, "", "", "***2671"),
        (clinics, "c_12345678", "e" * 20, ""),
    ]
    assert rows[0]["raised_at"] == an_hour_ago.isoformat()
    assert 3600 <= rows[0]["age_seconds"] < 3600 + 60 and 1800 <= rows[1]["age_seconds"] < 1800 + 60
    table = caredrip(env, "alerts").stdout
    assert stray in table and "***2671" in table and "operators" in table and "c_12345678" in table
    assert "breathe" not in table + listed.stdout and "Ana" not in table + listed.stdout

    status = json.loads(caredrip(env, "status", "--json").stdout)
    assert status["alerts_open"] == 2 and 3600 <= status["alert_oldest_age_seconds"] < 3660
    assert "red-flag alerts    2 open" in caredrip(env, "status").stdout

    closed = caredrip(env, "alerts", "ack", stray)
    assert closed.returncode == 0, closed.stderr
    assert [r["reply_id"] for r in json.loads(caredrip(env, "alerts", "--json").stdout)] == [clinics]
    again = caredrip(env, "alerts", "ack", stray)
    assert again.returncode == 1 and "no open alert" in again.stderr
    assert caredrip(env, "alerts", "ack", "nope").returncode == 1
