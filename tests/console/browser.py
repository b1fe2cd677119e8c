"""Chromium for the console's browser tests: Debian's /usr/bin/chromium driven by playwright.

playwright's own browser download cannot work on these machines, so the tests launch the
system Chromium. Without it (or without the playwright package) the browser tests FAIL with
the command that installs it: `make test` must not pass silently without them.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

CHROMIUM = Path(os.environ.get("CAREDRIP_CHROMIUM", "/usr/bin/chromium"))
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]  # fmt: skip
INSTALL = (
    "the console's browser tests need Chromium and the playwright package: "
    "`sudo apt-get install -y chromium` (Debian/Ubuntu; or set CAREDRIP_CHROMIUM to a Chromium binary) "
    "and `.venv/bin/pip install -e '.[dev]'` (playwright>=1.40; no `playwright install` needed)"
)


def require_chromium() -> Path:
    """The Chromium binary; fails the test (never skips) with how to install what is missing."""
    if not CHROMIUM.exists() or importlib.util.find_spec("playwright") is None:
        pytest.fail(f"{INSTALL} (missing: {CHROMIUM if not CHROMIUM.exists() else 'playwright'})", pytrace=False)
    return CHROMIUM
