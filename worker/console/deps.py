"""What the console needs beyond the API's context: delivery deps (resend, program calendars),
the session's life and cookie flag, where content lives, how to ask for workers.

`create_app(console=ConsoleDeps(...))` takes what tests build; a field left None is asked of
`worker.wiring` (and the settings) at request time, like the API's own context.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import Request

from worker import wiring
from worker.delivery.types import DeliveryDeps
from worker.deps import EngineDeps
from worker.store import ClinicStore, ConsoleStore

if TYPE_CHECKING:  # worker.api imports the console: no import back at run time
    from worker.api.context import ApiContext

SESSION_TTL_S = 8 * 3600


@dataclass(frozen=True)
class ConsoleDeps:
    """The console's own deps; None fields come from `worker.wiring` and the settings."""

    delivery: DeliveryDeps | None = None
    secure_cookie: bool | None = None  # None: Secure exactly when CAREDRIP_ENV=production
    session_ttl_s: int = SESSION_TTL_S
    content_dir: Path | None = None
    templates_dir: Path | None = None
    ping_workers: Callable[[], list[str]] | None = None


@dataclass(frozen=True)
class Console:
    """What a console handler is given: the API's context and the console's own deps."""

    api: ApiContext
    own: ConsoleDeps

    def engine(self) -> EngineDeps:
        return self.api.engine()

    def clinics(self) -> ClinicStore:
        return self.api.clinics()

    def store(self) -> ConsoleStore:
        """The console's keys, on the clinic store's Redis client (both live off the hot path)."""
        return ConsoleStore(self.clinics().redis)

    def delivery(self) -> DeliveryDeps:
        return self.own.delivery or wiring.delivery_deps()

    def secure_cookie(self) -> bool:
        if self.own.secure_cookie is not None:
            return self.own.secure_cookie
        return wiring.settings().env == "production"

    def content_dir(self) -> Path:
        return self.own.content_dir or self.engine().catalog.content_dir

    def templates_dir(self) -> Path:
        return self.own.templates_dir or wiring.settings().templates_dir

    def workers(self) -> list[str]:
        if self.own.ping_workers is not None:
            return self.own.ping_workers()
        from worker.status import celery_workers

        return celery_workers()


def console(request: Request) -> Console:
    return Console(request.app.state.ctx, request.app.state.console)
