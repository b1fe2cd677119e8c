"""`caredrip replies unmatched`: the operators' inbox, as a real subprocess; never a reply's text."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from tests.ops.conftest import caredrip
from tests.support.engine import KEYRING
from worker.store import Store, StoredReply


def test_replies_unmatched_lists_masked_number_time_and_length(env: dict[str, str], store: Store) -> None:
    assert caredrip(env, "replies", "unmatched").stdout.strip() == "none"
    assert json.loads(caredrip(env, "replies", "unmatched", "--json").stdout) == []
    at = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
    body = "my number changed, this is Ana"
    rid = "R" * 22
    sealed = KEYRING.seal(body, aad=rid)
    store.add_reply(StoredReply(rid, "", "", at, sealed, False, None, len(body), "bi", "***2671"), 86400)
    listed = caredrip(env, "replies", "unmatched", "--json")
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout) == [
        {"id": rid, "from": "***2671", "received_at": "2026-03-02T15:00:00+00:00", "length": len(body)}
    ]
    table = caredrip(env, "replies", "unmatched")
    assert rid in table.stdout and "***2671" in table.stdout and str(len(body)) in table.stdout
    assert "Ana" not in table.stdout + listed.stdout
