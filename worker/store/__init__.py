"""Redis: the only package that knows Redis's shape (keys, field codes, Lua scripts, commands).

`Store` (and `ClinicStore` for clinics) are the doors; their methods answer with the typed
results below, and `Store.batch()` gathers calls for one round trip. Modules: keys (every key,
its type and expiry), codec (field codes, record packing), results (typed answers, the Lua
answers read), ops (commands and the pipelined runner), the concerns (enrollments, due,
messages, counters, shared, intake, numbers, replies, alerts, resumes, audit, erasure, sealed,
webhooks), batch and redis_store (the Store), clinics, console (console operators and sessions).
"""

from worker.store.batch import Batch, Reply
from worker.store.clinics import ClinicStore
from worker.store.console import ConsoleStore
from worker.store.keys import FAILED_INDEX, UNKNOWN_INDEX, UNMATCHED, OperatorIndex
from worker.store.redis_store import LegacySecret, Store
from worker.store.results import (
    AlertSummary,
    AuditEntry,
    BeginSend,
    BeginStatus,
    CallbackResult,
    Claim,
    CountKey,
    Created,
    DispatchInfo,
    DueCounts,
    ErasedNumber,
    FinishResult,
    FinishSend,
    LastMessage,
    Lease,
    Lifecycle,
    MinuteCounts,
    NumberRecord,
    Reseal,
    Reservation,
    ReserveStatus,
    Retime,
    SealedPage,
    StoredAlert,
    StoredReply,
)
from worker.store.webhooks import Attempt, DeliveryKind, DeliveryState, StoredEvent, WebhookFigures

__all__ = [
    "FAILED_INDEX",
    "UNKNOWN_INDEX",
    "UNMATCHED",
    "AlertSummary",
    "Attempt",
    "AuditEntry",
    "Batch",
    "BeginSend",
    "BeginStatus",
    "CallbackResult",
    "Claim",
    "ClinicStore",
    "ConsoleStore",
    "CountKey",
    "Created",
    "DeliveryKind",
    "DeliveryState",
    "DispatchInfo",
    "DueCounts",
    "ErasedNumber",
    "FinishResult",
    "FinishSend",
    "LastMessage",
    "Lease",
    "LegacySecret",
    "Lifecycle",
    "MinuteCounts",
    "NumberRecord",
    "OperatorIndex",
    "Reply",
    "Reseal",
    "Reservation",
    "ReserveStatus",
    "Retime",
    "SealedPage",
    "Store",
    "StoredAlert",
    "StoredEvent",
    "StoredReply",
    "WebhookFigures",
]
