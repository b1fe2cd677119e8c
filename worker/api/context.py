"""What the API's handlers are given: the engine deps, the clinic store and two settings.

`create_app()` takes the deps tests build; a field left None is asked of `worker.wiring` at
request time, so importing the module-level app (`uvicorn worker.api:app`) connects to nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from worker import wiring
from worker.deps import EngineDeps
from worker.policy import Caps
from worker.store import ClinicStore


@dataclass(frozen=True)
class ApiContext:
    """What handlers need; a None field is asked of `worker.wiring` at request time."""

    engine_deps: EngineDeps | None = None
    clinic_store: ClinicStore | None = None
    public_base_url: str | None = None
    twilio_auth_token: str | None = None
    send_caps: Caps | None = None

    def engine(self) -> EngineDeps:
        return self.engine_deps or wiring.engine_deps()

    def clinics(self) -> ClinicStore:
        return self.clinic_store or wiring.clinics()

    def caps(self) -> Caps:
        """The frequency caps the worker applies (GET …/schedule explains by them)."""
        return self.send_caps or wiring.settings().caps

    def base_url(self) -> str:
        return (self.public_base_url or wiring.settings().public_base_url).rstrip("/")

    def production(self) -> bool:
        """CAREDRIP_ENV is production (webhook URLs must then be https)."""
        return wiring.settings().env == "production"

    def auth_token(self) -> str:
        token = self.twilio_auth_token if self.twilio_auth_token is not None else wiring.settings().twilio_auth_token
        return token or ""


def context(request: Request) -> ApiContext:
    ctx: ApiContext = request.app.state.ctx
    return ctx


async def _context(request: Request) -> ApiContext:
    """`context` as a dependency: async, so FastAPI calls it in the event loop, not on a thread
    (it reads an attribute; a thread hop costs more CPU than that)."""
    return context(request)


Ctx = Annotated[ApiContext, Depends(_context)]
