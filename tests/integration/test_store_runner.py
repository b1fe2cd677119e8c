"""The store's round trips (worker.store.ops.Runner) against a real Redis: replies shaped by
redis-py's own callbacks, an error reply in its place without desyncing the connection, scripts
reloaded after the server forgot them, and a connection killed between calls reopened."""

from __future__ import annotations

from typing import Any

import pytest
import redis

import worker.store.ops as ops_module
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


def test_arguments_of_every_type_redis_py_sends_go_as_it_sends_them(runner: Runner) -> None:
    # bytearray is what hiredis refuses (packed again as bytes); memoryview, int, float and str it packs itself
    runner.run(
        [
            command("hset", "t", "ba", bytearray(b"ba")),
            command("hset", "t", "mv", memoryview(b"mv")),
            command("hset", "t", "i", 7),
            command("hset", "t", "f", 2.5),
            command("hset", "t", "s", "é"),
            command("script_load", "return 1"),  # `SCRIPT LOAD`: a command name with a space goes as two words
        ]
    )
    assert runner.client.hgetall("t") == {"ba": "ba", "mv": "mv", "i": "7", "f": "2.5", "s": "é"}


def test_a_value_redis_py_refuses_fails_the_call_before_anything_is_sent(runner: Runner) -> None:
    with pytest.raises(TypeError):
        runner.run([command("set", "a", "1"), command("set", "b", None)])
    assert runner.client.exists("a") == 0


def test_script_and_hgetall_calls_are_recorded_as_redis_py_records_them(
    runner: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner.load()
    pipe = runner.client.pipeline(transaction=False)
    pipe.evalsha(runner._sha["generation"], 1, "g", "started", 3, 0)
    pipe.hgetall("h")
    recorded: list[Any] = []
    round_trip = ops_module._round_trip

    def capture(client: redis.Redis, conn: Any, stack: list[Any]) -> list[Any]:
        recorded.extend(stack)
        return round_trip(client, conn, stack)

    monkeypatch.setattr(ops_module, "_round_trip", capture)
    assert runner.run([ScriptCall("generation", ["g"], ["started", 3, 0]), command("hgetall", "h")]) == [3, {}]
    assert recorded == pipe.command_stack
