"""The console in a real browser: Debian's Chromium driven by playwright against a real `caredrip
run` (API, worker, beat, embedded Redis under a private var dir; a clock 60 times real time; SMS
through the twilio library to a local stand-in), one run for the module. Data comes in through
the product's doors only (tests.console.live). Each test saves a screenshot under its tmp_path."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.console.browser import ARGS, require_chromium
from tests.console.live import LiveRun, live_run, zone_at
from tests.support.redis_fixture import wait_until

pytestmark = pytest.mark.slow

AWAKE = range(10, 16)  # local hours with at least 5 (virtual) hours before quiet hours begin
NIGHT = range(0, 5)  # local hours inside quiet hours, at least 3 hours before they end
DRAINED = "() => [...document.querySelectorAll('#due-now td, #in-flight td')].every(td => td.innerText.trim() === '0')"


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveRun]:
    """One `caredrip run` for the module; stopped at its end with nothing left running. Without
    Chromium the tests fail at once, saying how to install it, before any run starts."""
    require_chromium()
    root = tmp_path_factory.mktemp("caredrip-run")
    (root / "var").mkdir()
    with live_run(root / "var", root / "run.log") as live:
        yield live


@pytest.fixture
def page(tmp_path: Path) -> Iterator[Any]:
    """A Chromium page 360 px wide (the narrowest the console must serve)."""
    chromium = require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium), args=ARGS)
        context = browser.new_context(viewport={"width": 360, "height": 800})
        tab = context.new_page()
        errors: list[str] = []
        tab.on("pageerror", lambda exc: errors.append(str(exc)))
        tab.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        yield tab
        tab.screenshot(path=str(tmp_path / "final.png"), full_page=True)
        browser.close()
        # A refused request (4xx page) is logged by Chromium as a failed resource: expected here.
        assert not [e for e in errors if "responded with a status of 4" not in e], errors


def _sign_in(page: Any, base: str, secret: str) -> None:
    page.goto(base + "/console")
    page.get_by_label("Operator token or clinic API key").fill(secret)
    with page.expect_navigation():
        page.keyboard.press("Enter")  # the keyboard alone signs in


def _row(page: Any, row_id: str) -> list[int]:
    """The per-channel figures of a row of the operations table (columns: sms, email)."""
    cells = page.locator(f"#{row_id} td").all_inner_texts()
    return [int(c) for c in cells]


def _sent_today(page: Any) -> int:
    return int(page.locator("#day").inner_text().split("·")[0].split()[1])


def test_an_operator_watches_a_backlog_drain_on_a_scaled_clock(page: Any, run: LiveRun, tmp_path: Path) -> None:
    """A dozen welcome SMS due at once under the run's 1-a-second rate limit (the shared GCRA: the
    drain cannot take less than 11 s, so the page reloaded right after the enrollments sees them
    waiting, due or leased); then, refreshed by htmx every 5 s, the backlog at 0 and every one of
    them sent. The figures read caredrip's clock, running an hour a minute."""
    key = run.add_clinic("Backlog Clinic")
    operator = run.add_operator("Dana Ops")
    _sign_in(page, run.base, operator)
    assert page.url.endswith("/console/operations")
    assert page.get_by_role("heading", name="Operations").is_visible()
    sent_before = _sent_today(page)
    zone = zone_at(run.now(), AWAKE)
    for n in range(12):
        run.enroll(key, f"BL-{n}", f"+1415555{3000 + n:04d}", zone)
    page.reload()
    waiting = _row(page, "due-now")[0] + _row(page, "in-flight")[0]
    assert waiting > 0, "the backlog should be visible before it drains"
    page.screenshot(path=str(tmp_path / "backlog.png"), full_page=True)
    page.wait_for_function(DRAINED, timeout=60_000)  # htmx swaps the figures in every 5 s
    assert _sent_today(page) >= sent_before + 12
    assert page.locator("#heartbeat.fresh").is_visible()  # beat runs dispatch every second
    page.wait_for_selector("#lateness-chart canvas")  # both charts drawn by uPlot, from the package
    page.wait_for_selector("#sends-chart canvas")
    page.screenshot(path=str(tmp_path / "drained.png"), full_page=True)
    assert run.now() - datetime.now(UTC) > timedelta(minutes=2)  # the run's clock is ahead: scaled
    page.keyboard.press("Tab")  # the first Tab lands on the skip link, shown when focused
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") == "solid"  # focus visible
    assert page.evaluate("document.documentElement.scrollWidth") <= 360  # no sideways scroll at 360 px


def test_an_operator_resends_an_unknown_message_once(page: Any, run: LiveRun, tmp_path: Path) -> None:
    """The stand-in drops the connection on the patient's first SMS (Twilio may or may not have
    it: `unknown`); the operator resends it from the console, once: a second resend is refused."""
    phone = "+14155554000"
    calls: list[str] = []

    def drop_the_first(_index: int, form: dict[str, str]) -> str:
        if form.get("To") != phone:
            return "ok"
        calls.append(form["Body"])
        return "drop" if len(calls) == 1 else "ok"

    run.standin.script(drop_the_first)
    key = run.add_clinic("Resend Clinic")
    operator = run.add_operator("Sam Ops")
    eid = run.enroll(key, "MRN-9", phone, zone_at(run.now(), AWAKE))["id"]
    run.wait_for_state(key, eid, "welcome", "unknown")
    _sign_in(page, run.base, operator)
    with page.expect_navigation():
        page.locator("#unknown-list").get_by_role("link", name="Resend…").click()
    assert "text them twice" in page.inner_text("main")
    with page.expect_navigation():
        page.get_by_role("button", name="Yes, resend it").click()
    assert page.locator("#outcome").inner_text() == f"sent {eid}.welcome.sms.2"
    page.screenshot(path=str(tmp_path / "resent.png"), full_page=True)
    page.goto(f"{run.base}/console/messages/{eid}.welcome.sms.1/resend")  # again: the same rules refuse it
    with page.expect_navigation():
        page.get_by_role("button", name="Yes, resend it").click()
    assert "already resent" in page.locator("#outcome").inner_text()
    run.standin.script([])
    sent = [m["id"] for m in run.messages(key, eid) if m["state"] == "sent"]
    assert sent == [f"{eid}.welcome.sms.2"]
    assert len(calls) == 2  # the dropped one and the one resend: sent once


def test_a_clinic_finds_a_patient_reads_a_quiet_hours_deferral_and_pauses(
    page: Any, run: LiveRun, tmp_path: Path
) -> None:
    """Enrolled in the small hours of its own zone: the welcome waits for 08:00 there."""
    key = run.add_clinic("Riverside Family Clinic")
    eid = run.enroll(key, "MRN-0042", "+14155554100", zone_at(run.now(), NIGHT))["id"]
    _sign_in(page, run.base, key)
    assert page.url.endswith("/console/patients")
    page.get_by_label("patient_ref").fill("MRN-0042")
    with page.expect_navigation():
        page.get_by_role("button", name="Find").click()
    with page.expect_navigation():
        page.get_by_role("link", name=eid).click()
    timeline = page.locator("table.timeline").inner_text()
    assert "Quiet hours: due " in timeline and "inside quiet hours 21:00-08:00: moved to " in timeline
    assert ", 08:00 " in timeline  # the upcoming welcome, at 08:00 local time
    page.screenshot(path=str(tmp_path / "timeline.png"), full_page=True)
    with page.expect_navigation():
        page.get_by_role("button", name="Pause").click()
    assert "Done: pause." in page.locator(".notice").inner_text()
    assert page.get_by_role("button", name="Resume").is_visible()
    enrollment = run.enrollment(key, eid)
    assert (enrollment["state"], enrollment["paused_reason"]) == ("paused", "clinic")


def test_a_clinic_acknowledges_a_red_flag_reply(page: Any, run: LiveRun, tmp_path: Path) -> None:
    """The patient answers the welcome SMS with a warning sign (a signed Twilio webhook): the
    enrollment pauses, an alert opens, and the clinic acknowledges the reply in the console."""
    key = run.add_clinic("Hillside Clinic")
    phone = "+14155554200"
    eid = run.enroll(key, "MRN-0043", phone, zone_at(run.now(), AWAKE))["id"]
    run.wait_for_state(key, eid, "welcome", "sent")  # replies go to the clinic whose message came last
    assert run.inbound(phone, "I have chest pain since the new pills", "SM" + "1" * 32).status_code == 200
    wait_until(lambda: run.enrollment(key, eid)["paused_reason"] == "red_flag", timeout=30, interval=0.2)
    _sign_in(page, run.base, key)
    row = page.locator("tr", has_text="MRN-0043")  # the clinic's list leads to the patient, paused
    assert "paused" in row.inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= 360  # the list fits 360 px
    with page.expect_navigation():
        row.get_by_role("link", name=eid).click()
    assert "reason: red_flag" in page.inner_text("main")
    alerts = page.locator("section.alerts")
    assert alerts.is_visible() and "Open red-flag alerts (1)" in alerts.inner_text()
    alerts.get_by_role("link", name="read the reply and acknowledge it").click()
    reply = page.locator(".replies li.red-flag")
    assert "chest pain since the new pills" in reply.inner_text()
    page.screenshot(path=str(tmp_path / "red-flag.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 360  # the patient page too
    reply.get_by_role("button", name="Acknowledge").focus()
    with page.expect_navigation():
        page.keyboard.press("Enter")  # the keyboard alone acknowledges
    assert "Done: acknowledged." in page.locator(".notice").inner_text()
    assert page.locator("section.alerts").count() == 0
    assert "Acknowledged" in page.locator(".replies li.red-flag").inner_text()
    assert page.locator(".replies").get_by_role("button", name="Acknowledge").count() == 0
    page.screenshot(path=str(tmp_path / "acknowledged.png"), full_page=True)
    (reply_out,) = run.api("GET", "/v1/replies", key).json()["replies"]
    assert reply_out["red_flag"] and reply_out["acknowledged_at"] is not None


def test_a_program_calendar_in_spanish(page: Any, run: LiveRun, tmp_path: Path) -> None:
    _sign_in(page, run.base, run.add_clinic("Calendar Clinic"))
    with page.expect_navigation():
        page.get_by_role("link", name="Programs").click()
    twitching = page.get_by_role("region", name="Muscle twitching (twitching)")  # one form per program
    twitching.get_by_label("Language").select_option("es")
    with page.expect_navigation():
        twitching.get_by_role("button", name="Show calendar").click()
    first = page.locator("article.message.sms").first
    assert first.get_attribute("lang") == "es"
    assert "STOP" in first.locator(".bubble").inner_text()
    assert "UCS-2" in page.inner_text("main") or "GSM-7" in first.inner_text()
    assert page.locator("article.message").count() > 10
    page.screenshot(path=str(tmp_path / "calendar-es.png"), full_page=True)
    page.screenshot(path=str(tmp_path / "calendar-es-top.png"))  # the first screen, as a phone shows it


def test_a_forged_session_and_a_missing_csrf_token_get_4xx(page: Any, run: LiveRun, tmp_path: Path) -> None:
    key = run.add_clinic("Forgery Clinic")
    eid = run.enroll(key, "MRN-1", "+14155554300", zone_at(run.now(), AWAKE))["id"]
    page.context.add_cookies([{"name": "cd_console", "value": "F" * 43, "domain": "127.0.0.1", "path": "/console"}])
    answer = page.goto(f"{run.base}/console/patients/{eid}")
    assert answer.status == 401 and page.get_by_role("heading", name="Your session is not valid").is_visible()
    page.screenshot(path=str(tmp_path / "forged.png"), full_page=True)
    _sign_in(page, run.base, key)
    page.goto(f"{run.base}/console/patients/{eid}")
    page.evaluate("document.querySelectorAll('input[name=csrf]').forEach(e => e.remove())")
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.get_by_role("button", name="Pause").click()
    assert posted.value.status == 403
    assert page.get_by_role("heading", name="Form expired or forged").is_visible()
    assert run.enrollment(key, eid)["state"] == "active"
