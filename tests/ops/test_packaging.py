"""The installed package (the Docker image) carries every data file the code reads beside itself."""

from __future__ import annotations

import tomllib

from tests.ops.conftest import REPO


def test_package_data_covers_the_config_and_lua_files() -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = pyproject["tool"]["setuptools"]["package-data"]["worker"]
    shipped = {path for pattern in patterns for path in (REPO / "worker").glob(pattern)}
    needed = [*(REPO / "worker" / "config").iterdir(), *(REPO / "worker" / "lua").iterdir()]
    assert {p.name for p in needed} >= {"celery.toml", "defaults.toml", "claim.lua"}
    missing = [str(p.relative_to(REPO)) for p in needed if p not in shipped and p.name != "__pycache__"]
    assert not missing, f"not in the wheel: {missing}"
