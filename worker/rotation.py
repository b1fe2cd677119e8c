"""Key rotation: every sealed record re-sealed under the keyring's first key (`caredrip keys rotate`).

Runs while the service runs. The keyspace is read in SCAN pages; each enrollment's details (`x`)
and each reply's body (`b`), then each clinic's webhook signing secret, is re-sealed by
compare-and-set (worker.store), so a PATCH or an erasure landing meanwhile is never lost; a record
already under the first key is skipped, so a run stopped halfway is simply run again. On the way,
enrollments stored plain (before sealing) are sealed and SMS opt-outs still keyed by the plain
number move to its blind index.

To retire a key: put a new key first in CAREDRIP_DATA_KEYS (keep the old ones after it), restart
the processes, run `caredrip keys rotate` until it reports nothing left under older keys; then the
old keys may leave the setting (once no backup that still needs them is kept).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from worker.errors import Conflict
from worker.phi import SealError
from worker.store import ClinicStore, Reseal, Store

PAGE = 1000  # keys per SCAN page


@dataclass
class RotationReport:
    """What a run did: per kind of record, how many of each outcome; what it could not do."""

    kid: int  # the key everything is now sealed under
    keys_scanned: int = 0
    enrollments: Counter[Reseal] = field(default_factory=Counter)
    replies: Counter[Reseal] = field(default_factory=Counter)
    webhook_secrets: Counter[Reseal] = field(default_factory=Counter)  # clinics' signing secrets
    opt_outs_moved: int = 0
    unreadable: list[str] = field(default_factory=list)  # record ids whose token did not open
    busy: list[str] = field(default_factory=list)  # ids changed by others on every attempt: run again

    @property
    def complete(self) -> bool:
        """Every record is now under the first key (or holds nothing sealed)."""
        return not self.unreadable and not self.busy


def rotate(
    store: Store,
    *,
    page: int = PAGE,
    progress: Callable[[int], None] = lambda _keys: None,
    audit: Callable[[RotationReport], None] = lambda _report: None,
) -> RotationReport:
    """Re-seal every enrollment and reply under the store's first key, seal plain enrollments and
    move plain SMS opt-outs; `progress(n)` after each page of `n` keys (of `store.key_count()`)."""
    report = RotationReport(kid=store.keyring.keys[0].kid)
    report.opt_outs_moved = store.migrate_sms_opt_outs()
    cursor = None
    while cursor != 0:
        found = store.sealed_records_page(cursor or 0, page)
        cursor = found.cursor
        for eid in found.enrollments:
            _one(eid, store.reseal_enrollment, report.enrollments, report)
        for rid in found.replies:
            _one(rid, store.reseal_reply, report.replies, report)
        report.keys_scanned += found.scanned
        progress(found.scanned)
    for cid in ClinicStore(store.redis).ids():
        _one(cid, store.reseal_webhook_secret, report.webhook_secrets, report)
    # The CLI records the run in the audit trail (worker.audit: key id, counts, complete or not).
    audit(report)
    return report


def _one(rid: str, reseal: Callable[[str], Reseal], counts: Counter[Reseal], report: RotationReport) -> None:
    try:
        counts[reseal(rid)] += 1
    except SealError:
        report.unreadable.append(rid)
    except Conflict:
        report.busy.append(rid)


def summary(report: RotationReport) -> list[str]:
    """The report as lines for operators (counts and ids, never PHI)."""

    def counts(c: Counter[Reseal]) -> str:
        return ", ".join(f"{c[r]} {r.value}" for r in Reseal)

    lines = [
        f"keys scanned: {report.keys_scanned}",
        f"enrollments: {counts(report.enrollments)}",
        f"replies: {counts(report.replies)}",
        f"webhook secrets: {counts(report.webhook_secrets)}",
        f"sms opt-outs moved to blind index: {report.opt_outs_moved}",
    ]
    if report.unreadable:
        lines.append(
            f"unreadable (key missing or altered): {len(report.unreadable)}: {' '.join(report.unreadable[:20])}"
        )
    if report.busy:
        lines.append(f"changed by others on every attempt, run again: {len(report.busy)}: {' '.join(report.busy[:20])}")
    state = "complete" if report.complete else "incomplete"
    lines.append(f"{state}: everything readable is sealed under key id {report.kid}")
    return lines
