"""EngineDeps: what the rules need from the outside world (clock, store, catalog, policy, secret,
the PHI keyring and the blind-index key)."""

from __future__ import annotations

from dataclasses import dataclass

from worker.clock import Clock
from worker.phi import IndexKey, Keyring
from worker.policy import QuietHours
from worker.programs import ProgramCatalog
from worker.store import Store


@dataclass(frozen=True)
class EngineDeps:
    """What the rules need from the outside world; wiring builds the real ones, tests their own."""

    clock: Clock
    store: Store
    catalog: ProgramCatalog
    quiet: QuietHours
    secret: bytes
    keyring: Keyring  # seals PHI at rest (CAREDRIP_DATA_KEYS)
    index: IndexKey  # blind indexes: look a number or address up without storing it
    retention_days: int = 400

    @property
    def retention_s(self) -> int:
        return self.retention_days * 86400
