"""`caredrip operator add NAME`, run as a real subprocess on the private Redis."""

from __future__ import annotations

from pathlib import Path

from tests.ops.conftest import caredrip, cli_env
from worker.console.operators import authenticate_operator
from worker.store import ConsoleStore


def test_operator_add_prints_the_token_once_and_keeps_only_its_hash(
    redis_url: str, tmp_path: Path, console_store: ConsoleStore
) -> None:
    env = cli_env(tmp_path, REDIS_URL=redis_url)
    done = caredrip(env, "operator", "add", "Dana Ops")
    assert done.returncode == 0, done.stderr
    token = done.stdout.strip().splitlines()[-1]
    assert token.startswith("cdo_") and len(token) > 40
    oid = authenticate_operator(console_store, token)
    assert oid is not None and console_store.operator(oid)["name"] == "Dana Ops"
    stored = "".join(str(v) for k in console_store.redis.scan_iter("cd:operator*") for v in [k])
    assert token not in stored and token not in str(console_store.redis.hgetall(f"cd:operator:{oid}"))

    refused = caredrip(env, "operator", "add", "  ")
    assert refused.returncode == 2 and "name" in refused.stderr
