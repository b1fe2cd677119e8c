"""Lua scripts share helpers by `-- include: <part>` (worker.store.ops.script_source)."""

from __future__ import annotations

from importlib import resources

from worker.store.ops import INCLUDE, script_source


def test_an_include_line_becomes_the_shared_helper() -> None:
    helper = resources.files("worker.lua").joinpath("_expire_with_enrollment.lua").read_text()
    for name in ("begin_send", "finish_send", "callback"):
        source = script_source(name)
        assert INCLUDE not in source
        assert helper in source
        assert source.count("local function expire_with_enrollment(") == 1


def test_a_script_without_includes_is_read_as_it_is() -> None:
    assert script_source("claim") == resources.files("worker.lua").joinpath("claim.lua").read_text()
