"""Count what happened to messages, and check that the count adds up.

The guarantee under test (DESIGN.md, "Message identity and guarantees"): every due message is
sent exactly once, or recorded `unknown` or `failed` with a reason; never handed to the provider
twice; never lost. These helpers read the records in Redis and what the provider stand-ins got.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from tests.support.twilio_standin import TwilioStandIn
from worker.records import MessageRecord, MessageState, message_id
from worker.store import Store
from worker.store.keys import FAILED_INDEX, UNKNOWN_INDEX

FINAL = (MessageState.SENT, MessageState.DELIVERED, MessageState.UNKNOWN, MessageState.FAILED, MessageState.SKIPPED)


def message_ids_at_standin(standin: TwilioStandIn) -> Counter[str]:
    """Message id -> how many create requests the Twilio stand-in received for it."""
    return Counter(r["StatusCallback"].rsplit("?m=", 1)[1] for r in standin.requests if "StatusCallback" in r)


def step_records(store: Store, eids: Iterable[str], step: str, channel: str) -> dict[str, MessageRecord | None]:
    """Message id -> the first occurrence's record of `step` on `channel`, per enrollment."""
    return {message_id(eid, step, channel): store.record(message_id(eid, step, channel)) for eid in eids}


def all_final(store: Store, eids: Sequence[str], step: str, channel: str) -> bool:
    """Whether each enrollment's message has a final record (not queued, retrying or sending)."""
    return all(r is not None and r.state in FINAL for r in step_records(store, eids, step, channel).values())


def assert_adds_up(store: Store, eids: Sequence[str], step: str, channel: str) -> Counter[MessageState]:
    """Every message is sent, unknown or failed (each with a reason), indexed for operators, and the
    states add up to the number of enrollments. Returns the count by state."""
    records = step_records(store, eids, step, channel)
    missing = [mid for mid, r in records.items() if r is None]
    assert not missing, f"lost: no record for {missing[:5]}"
    states: Counter[MessageState] = Counter(r.state for r in records.values() if r is not None)
    sent = states[MessageState.SENT] + states[MessageState.DELIVERED]
    assert sent + states[MessageState.UNKNOWN] + states[MessageState.FAILED] == len(eids), states
    unknown = {mid for mid, r in records.items() if r is not None and r.state is MessageState.UNKNOWN}
    failed = {mid for mid, r in records.items() if r is not None and r.state is MessageState.FAILED}
    reasons = {mid: r.reason for mid, r in records.items() if r is not None and mid in unknown | failed}
    assert all(reasons.values()), f"unknown or failed without a reason: {reasons}"
    assert unknown <= set(store.indexed_messages(UNKNOWN_INDEX, 100_000)), "unknown but not listed for operators"
    assert failed <= set(store.indexed_messages(FAILED_INDEX, 100_000)), "failed but not listed for operators"
    return states
