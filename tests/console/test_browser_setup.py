"""Without Chromium the browser tests fail, saying how to install it: they never pass silently."""

from __future__ import annotations

from pathlib import Path

import pytest

import tests.console.browser as browser


def test_a_missing_chromium_fails_with_the_install_command(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(browser, "CHROMIUM", tmp_path / "no-chromium-here")
    with pytest.raises(pytest.fail.Exception, match=r"apt-get install -y chromium") as failed:
        browser.require_chromium()
    assert "no-chromium-here" in str(failed.value) and "playwright" in str(failed.value)


def test_the_installed_chromium_is_found() -> None:
    assert browser.require_chromium() == browser.CHROMIUM
