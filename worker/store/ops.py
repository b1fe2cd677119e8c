"""The store's plumbing: commands and Lua calls, typed calls, and the one pipelined runner.

Private to `worker.store`: the rest of caredrip calls `Store` and `Batch` methods. A `Call` is
what one of those methods sends (one or more commands or script calls, in order) and how its raw
replies become a typed value; every round trip runs their ops through `Runner.run`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Generic, TypeVar

import hiredis
import redis
from redis.client import EMPTY_RESPONSE, NEVER_DECODE
from redis.utils import HIREDIS_AVAILABLE

T = TypeVar("T")
U = TypeVar("U")
SCRIPTS = (
    "claim",
    "renew",
    "reap",
    "release",
    "enroll",
    "generation",
    "retime",
    "begin_send",
    "finish_send",
    "end_pending",
    "lifecycle",
    "ratelimit",
    "callback",
    "compact_records",
    "clinic_index",
    "cas",
    "move_optout",
)
RECIPIENT_SCRIPTS = ("reserve_send", "park_sends", "enroll_number", "ack_reply")  # store.numbers, store.replies
SAFETY_SCRIPTS = ("resume_done",)  # store.resumes
AUDIT_SCRIPTS = ("audit_append", "forget_clinic_number")  # store.audit, store.erasure
EVENT_SCRIPTS = ("webhook_claim",)  # store.webhooks


@dataclass(frozen=True, slots=True)
class ScriptCall:
    """One Lua call (a file under worker/lua/): script name, keys and arguments."""

    script: str
    keys: Sequence[str]
    args: Sequence[Any]


@dataclass(frozen=True, slots=True)
class Command:
    """One plain Redis command, as redis-py names it, e.g. Command("zadd", (key, {member: score}))."""

    name: str
    args: Sequence[Any]
    kwargs: Mapping[str, Any] = field(default_factory=dict)


Op = ScriptCall | Command


@dataclass(frozen=True, slots=True)
class Call(Generic[T]):
    """The ops one store method sends, and how their raw replies (in the same order) become a T."""

    ops: tuple[Op, ...]
    parse: Callable[[list[Any]], T]


def command(name: str, *args: Any, **kwargs: Any) -> Command:
    return Command(name, args, kwargs)


def one(op: Op, parse: Callable[[Any], T]) -> Call[T]:
    """A call of a single op whose reply `parse` reads."""
    return Call((op,), lambda raw: parse(raw[0]))


def effect(*ops: Op) -> Call[None]:
    """A call whose replies nobody reads (writes)."""
    return Call(ops, _nothing)


def pair(first: Call[T], second: Call[U]) -> Call[tuple[T, U]]:
    """Two calls sent in one round trip, answered together."""
    n = len(first.ops)
    return Call((*first.ops, *second.ops), lambda raw: (first.parse(raw[:n]), second.parse(raw[n:])))


def _nothing(_raw: list[Any]) -> None:
    return None


INCLUDE = "-- include: "


def script_source(name: str) -> str:
    """The text of worker/lua/<name>.lua, each line `-- include: <part>` replaced by the text of
    worker/lua/<part>.lua (a Lua helper several scripts share: Redis has no `require`)."""
    folder = resources.files("worker.lua")
    lines = folder.joinpath(f"{name}.lua").read_text().splitlines(keepends=True)
    return "".join(
        folder.joinpath(f"{line[len(INCLUDE):].strip()}.lua").read_text() if line.startswith(INCLUDE) else line
        for line in lines
    )


class Runner:
    """Runs ops on one redis-py client in pipelined round trips, with the Lua scripts by name."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        names = (*SCRIPTS, *RECIPIENT_SCRIPTS, *SAFETY_SCRIPTS, *AUDIT_SCRIPTS, *EVENT_SCRIPTS)
        self._sources = {name: script_source(name) for name in names}
        self._sha: dict[str, str] = {}

    def load(self) -> None:
        self._sha = {name: str(self.client.script_load(src)) for name, src in self._sources.items()}

    def run(self, ops: Sequence[Op]) -> list[Any]:
        """Run `ops` in one pipelined round trip (none when empty); scripts unknown to the server
        (it restarted) are loaded and only those calls re-run, so nothing runs twice."""
        if not ops:
            return []
        if not self._sha and any(isinstance(op, ScriptCall) for op in ops):
            self.load()
        results = self._pipeline(ops)
        missing = [i for i, r in enumerate(results) if isinstance(r, redis.exceptions.NoScriptError)]
        if missing:
            self.load()
            for i, value in zip(missing, self._pipeline([ops[i] for i in missing]), strict=True):
                results[i] = value
        for value in results:
            if isinstance(value, Exception):
                raise value
        return results

    def call(self, call: Call[T]) -> T:
        """One call, in one round trip."""
        return call.parse(self.run(call.ops))

    def _pipeline(self, ops: Sequence[Op]) -> list[Any]:
        """One round trip: redis-py's own command methods build each command (a pipeline only
        records them; a script call and a plain HGETALL are recorded here in the very shape
        `pipe.evalsha` / `pipe.hgetall` give, without their call chain: ~1 us each), then
        `_round_trip` sends them on a pooled connection, retried on a connection error by the
        client's own policy as `Pipeline.execute` does."""
        pipe = self.client.pipeline(transaction=False)
        stack: list[tuple[tuple[Any, ...], dict[str, Any]]] = pipe.command_stack
        for op in ops:
            if isinstance(op, ScriptCall):  # recorded as `pipe.evalsha` records it, without its call chain
                stack.append((("EVALSHA", self._sha[op.script], len(op.keys), *op.keys, *op.args), {}))
            elif op.name == "hgetall" and len(op.args) == 1 and not op.kwargs:  # likewise `pipe.hgetall`
                stack.append((("HGETALL", op.args[0]), {"keys": [op.args[0]]}))
            else:
                getattr(pipe, op.name)(*op.args, **op.kwargs)
        pool = self.client.connection_pool
        conn: Any = pool.get_connection()
        try:
            replies: list[Any] = conn.retry.call_with_retry(
                lambda: _round_trip(self.client, conn, stack), lambda _error: conn.disconnect()
            )
            return replies
        except BaseException:
            conn.disconnect()  # replies may be left unread: never hand the socket on
            raise
        finally:
            pool.release(conn)


def _round_trip(client: redis.Redis, conn: Any, stack: list[tuple[tuple[Any, ...], dict[str, Any]]]) -> list[Any]:
    """Send the recorded commands in one write and read each reply, as `Pipeline.execute(
    raise_on_error=False)` does (an error reply is returned in its place), with less of
    redis-py's per-command machinery: ~45 us of client CPU less for an enrollment's create."""
    if HIREDIS_AVAILABLE:
        conn.send_packed_command([b"".join([_packed(args) for args, _ in stack])])
    else:  # pragma: no cover - hiredis is a dependency
        conn.send_packed_command(conn.pack_commands([args for args, _ in stack]))
    callbacks: Any = client.response_callbacks
    replies: list[Any] = []
    for args, options in stack:
        try:
            reply = conn.read_response(disable_decoding=True) if NEVER_DECODE in options else conn.read_response()
        except redis.exceptions.ResponseError as error:
            replies.append(options.get(EMPTY_RESPONSE, error))
            continue
        callback = callbacks.get(args[0])
        if callback is not None:
            if options:
                reply = callback(reply, **{k: v for k, v in options.items() if k not in _NOT_FOR_CALLBACKS})
            else:
                reply = callback(reply)
        replies.append(reply)
    return replies


_NOT_FOR_CALLBACKS = (NEVER_DECODE, EMPTY_RESPONSE, "keys")


def _packed(args: tuple[Any, ...]) -> bytes:
    """One command in RESP as redis-py's hiredis packer sends it: a command name with a space
    split in two (`SCRIPT LOAD`), bytearray as bytes. hiredis packs str, int, float, bytes and
    memoryview itself, so the arguments go as they are and are only converted when it refuses
    them (TypeError): no per-argument type check on the common path."""
    if isinstance(args[0], str) and " " in args[0]:
        args = (*args[0].split(), *args[1:])
    try:
        packed: bytes = hiredis.pack_command(args)
    except TypeError:
        as_bytes: Any = tuple(bytes(a) if isinstance(a, bytearray) else a for a in args)
        packed = hiredis.pack_command(as_bytes)
    return packed
