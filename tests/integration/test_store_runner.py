"""The store's round trips (worker.store.ops.Runner) against a real Redis: replies shaped by
redis-py's own callbacks, an error reply in its place without desyncing the connection, scripts
reloaded after the server forgot them, and a connection killed between calls reopened."""

from __future__ import annotations

import pytest
import redis

from worker.store.ops import Runner, ScriptCall, command


@pytest.fixture
def runner(redis_url: str) -> Runner:
    return Runner(redis.Redis.from_url(redis_url, decode_responses=True))


def test_replies_are_shaped_as_redis_py_shapes_them(runner: Runner) -> None:
    replies = runner.run(
        [
            command("hset", "h", mapping={"a": "1", "b": "2"}),
            command("hgetall", "h"),
            command("zadd", "z", {"m": 5}, nx=True),
            command("zrange", "z", 0, -1, withscores=True),
            command("xadd", "s", {"f": "v"}, id="1-1"),
            command("xrevrange", "s", "+", "-", count=1),
            command("exists", "h", "nope"),
            command("dump", "h"),  # NEVER_DECODE: raw bytes even on a decoding client
        ]
    )
    assert replies[:7] == [2, {"a": "1", "b": "2"}, 1, [("m", 5.0)], "1-1", [("1-1", {"f": "v"})], 1]
    assert isinstance(replies[7], bytes)


def test_an_error_reply_takes_its_place_and_the_connection_stays_in_step(runner: Runner) -> None:
    runner.run([command("set", "k", "v")])
    with pytest.raises(redis.exceptions.ResponseError, match="WRONGTYPE"):
        runner.run([command("get", "k"), command("hget", "k", "f"), command("strlen", "k")])
    assert runner.run([command("get", "k"), command("strlen", "k")]) == ["v", 1]


def test_scripts_the_server_forgot_are_loaded_again_and_run_once(runner: Runner) -> None:
    call = ScriptCall("generation", ["g"], ["started", 3, 0])
    assert runner.run([call, command("get", "g")]) == [3, "3"]
    runner.client.script_flush()
    assert runner.run([command("incr", "n"), call, command("get", "n")]) == [1, 3, "1"]  # incr ran once


def test_a_connection_killed_between_calls_is_opened_again(runner: Runner) -> None:
    runner.run([command("set", "k", "1")])
    runner.client.client_kill_filter(_type="normal", skipme=False)
    assert runner.run([command("get", "k")]) == ["1"]
