"""Clinic authentication: `Authorization: Bearer <key>` names the clinic a request acts for.

A missing, unknown or revoked key answers 401; `Actor` names the clinic and the key's id for the
audit trail (worker.audit); which clinic owns an enrollment is checked by the
engine (`worker.enrollment.get_owned`), so another clinic's enrollment answers 404 like a missing one.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from worker.api.context import ApiContext, Ctx
from worker.audit import clinic_actor
from worker.clinics import authenticate
from worker.tokens import hash_key, key_id

bearer = HTTPBearer(auto_error=False, description="The clinic's API key: `Authorization: Bearer <key>`")


def unauthorized(detail: str) -> HTTPException:
    return HTTPException(401, detail, headers={"WWW-Authenticate": "Bearer"})


def clinic_id(ctx: Ctx, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> str:
    """The authenticated clinic's id; 401 for a missing, unknown or revoked key."""
    if credentials is None:
        raise unauthorized("missing clinic key: send Authorization: Bearer <key>")
    cid = authenticate(ctx.clinics(), credentials.credentials)
    if cid is None:
        raise unauthorized("unknown or revoked clinic key")
    return cid


ClinicId = Annotated[str, Depends(clinic_id)]


async def actor(cid: ClinicId, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> str:
    """Who the audit trail names for this request: the clinic and the id of the key it used (one
    hash, no I/O: async, so it runs in the event loop rather than on a thread)."""
    assert credentials is not None  # clinic_id refused the request otherwise
    return clinic_actor(cid, key_id(hash_key(credentials.credentials)))


Actor = Annotated[str, Depends(actor)]
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def caller(ctx: ApiContext, credentials: HTTPAuthorizationCredentials | None) -> tuple[str, str]:
    """`clinic_id` and `actor` for a handler that authenticates on the thread it already runs its
    work on (POST /v1/enrollments: one thread hop a request, not two); the same 401s."""
    cid = clinic_id(ctx, credentials)
    assert credentials is not None  # clinic_id refused the request otherwise
    return cid, clinic_actor(cid, key_id(hash_key(credentials.credentials)))


def has_clinic_key(ctx: ApiContext, request: Request) -> bool:
    """Whether the request carries a valid clinic key (outside the dependency system: error handlers)."""
    scheme, _, key = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and authenticate(ctx.clinics(), key.strip()) is not None
