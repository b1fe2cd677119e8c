"""The request body size limit: bodies over 64 KiB are refused (413) before anything reads them;
a path may have a larger limit of its own (bulk intake: `larger`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY_BYTES = 64 * 1024


class BodyLimit:
    """Refuse (413) a body over `limit` bytes (over `larger[path]` on those paths), by
    Content-Length and by what actually arrives; the app sees the body only once it is known to fit."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES, larger: Mapping[str, int] | None = None) -> None:
        self.app = app
        self.limits: dict[str | None, int] = {None: limit}
        self.limits.update(larger or {})

    def _limit(self, scope: Scope) -> int:
        return self.limits.get(scope.get("path"), self.limits[None])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self._limit(scope)
        too_large = f"request body larger than {limit} bytes"
        declared = dict(scope["headers"]).get(b"content-length", b"0")
        if not declared.isdigit():
            await _refuse(400, "invalid Content-Length", scope, receive, send)
            return
        if int(declared) > limit:
            await _refuse(413, too_large, scope, receive, send)
            return
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await _refuse(413, too_large, scope, receive, send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        await self.app(scope, _replay(b"".join(chunks), receive), send)


def _replay(body: bytes, receive: Receive) -> Callable[[], Awaitable[Message]]:
    delivered = False

    async def replay() -> Message:
        nonlocal delivered
        if delivered:
            return await receive()
        delivered = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


async def _refuse(status: int, detail: str, scope: Scope, receive: Receive, send: Send) -> None:
    """Answer without reading the body; the connection closes, so the unread rest is dropped."""
    await JSONResponse({"detail": detail}, status_code=status, headers={"Connection": "close"})(scope, receive, send)
