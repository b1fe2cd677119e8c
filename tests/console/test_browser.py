"""The console in a real browser: Debian's Chromium driven by playwright against the API served
by uvicorn on loopback, over a private Redis. Each test saves a screenshot under its tmp_path."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from tests.console.browser import ARGS, require_chromium
from tests.console.conftest import console_app
from tests.support.engine import make_deps, new_enrollment, send_inline
from tests.support.redis_fixture import wait_until
from worker.clock import FixedClock, ScaledClock
from worker.delivery.dispatch import dispatch_window
from worker.delivery.types import DeliveryDeps
from worker.deps import EngineDeps
from worker.enrollment import enroll
from worker.records import EnrollmentState, MessageState
from worker.replies import handle_inbound
from worker.store import ClinicStore

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def _serve(app: Any) -> Iterator[str]:
    """`app` served by uvicorn in a thread on a free loopback port."""
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, name="uvicorn-console", daemon=True)
    thread.start()
    wait_until(lambda: server.started, timeout=10)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def server(engine: EngineDeps, clinic_store: ClinicStore, delivery: DeliveryDeps) -> Iterator[str]:
    """The API with its console (fixed clock), served by uvicorn in a thread."""
    with _serve(console_app(engine, clinic_store, delivery)) as url:
        yield url


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


def test_an_operator_signs_in_and_watches_a_backlog_drain(
    page: Any, server: str, operator: tuple[str, str], clinic: tuple[str, str], delivery: DeliveryDeps,
    tmp_path: Path,
) -> None:  # fmt: skip
    for n in range(3):  # three patients whose welcome messages are due now, and no dispatch yet
        phone = f"+1415555{2671 + n:04d}"
        enroll(delivery.engine, new_enrollment(f"MRN-{n}", clinic_id=clinic[0], phone=phone, email=f"p{n}@example.com"))
    _sign_in(page, server, operator[1])
    assert page.url.endswith("/console/operations")
    assert page.get_by_role("heading", name="Operations").is_visible()
    heartbeat = page.locator("#heartbeat")
    assert "stale" in heartbeat.inner_text().lower() and "stale" in (heartbeat.get_attribute("class") or "")
    assert page.locator("#due-now").inner_text().split() == ["Due", "now", "(backlog)", "3", "3"]
    page.screenshot(path=str(tmp_path / "backlog.png"), full_page=True)
    # One dispatch window as beat runs it (it notes the heartbeat), sending in this process.
    dispatch_window(delivery, send_inline(delivery), window_seconds=0, sleep=lambda _s: None)
    # htmx swaps the figures in every 5 s: the backlog drains and the heartbeat turns fresh.
    page.wait_for_selector("#heartbeat.fresh", timeout=15_000)
    assert page.locator("#due-now").inner_text().split() == ["Due", "now", "(backlog)", "0", "0"]
    page.wait_for_selector("#sends-chart canvas")  # uPlot, from the package's own static files
    page.keyboard.press("Tab")  # the first Tab lands on the skip link, shown when focused
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    focus = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert focus == "solid"  # focus is visible
    assert page.evaluate("document.documentElement.scrollWidth") <= 360  # no sideways scroll at 360 px
    page.screenshot(path=str(tmp_path / "operations.png"), full_page=True)


def test_an_operator_watches_a_backlog_drain_on_a_scaled_clock(
    page: Any, operator: tuple[str, str], clinic: tuple[str, str], clinic_store: ClinicStore, redis_url: str,
    tmp_path: Path,
) -> None:  # fmt: skip
    """caredrip's clock running 60 times real time (as `caredrip run --scale`): the backlog and the
    heartbeat's age are on that clock, the drain shows in the 24-hour figures with its lateness."""
    clock = ScaledClock(real_origin=time.time(), virtual_origin=datetime(2026, 3, 2, 15, 0, tzinfo=UTC), scale=60)
    delivery = make_deps(redis_url, tmp_path / "scaled-outbox.jsonl", clock=clock)
    for n in range(4):  # four patients whose welcome messages are due now, and no dispatch yet
        phone = f"+1415555{2671 + n:04d}"
        enroll(delivery.engine, new_enrollment(f"MRN-{n}", clinic_id=clinic[0], phone=phone, email=f"p{n}@example.com"))
    with _serve(console_app(delivery.engine, clinic_store, delivery)) as base:
        _sign_in(page, base, operator[1])
        assert page.locator("#due-now").inner_text().split() == ["Due", "now", "(backlog)", "4", "4"]
        assert page.locator("#heartbeat.stale").is_visible()
        page.screenshot(path=str(tmp_path / "scaled-backlog.png"), full_page=True)
        dispatch_window(delivery, send_inline(delivery), window_seconds=0, sleep=lambda _s: None)  # beat's window
        page.wait_for_selector("#heartbeat.fresh", timeout=15_000)  # htmx: the figures every 5 s
        assert page.locator("#due-now").inner_text().split() == ["Due", "now", "(backlog)", "0", "0"]
        assert page.locator("#day").inner_text().startswith("sent 8 · failed 0 · unknown 0 · lateness p50")
        page.wait_for_selector("#lateness-chart canvas")  # both charts drawn by uPlot
        page.wait_for_selector("#sends-chart canvas")
        page.screenshot(path=str(tmp_path / "scaled-drained.png"), full_page=True)
    delivery.engine.store.redis.close()


def test_a_clinic_finds_a_patient_reads_a_quiet_hours_deferral_and_pauses(
    page: Any, server: str, clinic: tuple[str, str], engine: EngineDeps, tmp_path: Path
) -> None:
    # 15:00 UTC is midnight in Tokyo: the welcome message, due at once, waits for 08:00 there.
    clock = engine.clock
    assert isinstance(clock, FixedClock)
    assert clock.now() == datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
    enrollment, _ = enroll(engine, new_enrollment("MRN-0042", clinic_id=clinic[0], timezone="Asia/Tokyo"))
    _sign_in(page, server, clinic[1])
    assert page.url.endswith("/console/patients")
    page.get_by_label("patient_ref").fill("MRN-0042")
    with page.expect_navigation():
        page.get_by_role("button", name="Find").click()
    with page.expect_navigation():
        page.get_by_role("link", name=enrollment.id).click()
    timeline = page.locator("table.timeline").inner_text()
    assert "Quiet hours: due Tue 03 Mar 00:00, inside quiet hours 21:00-08:00: moved to Tue 03 Mar 08:00" in timeline
    assert "Tue 3 Mar 2026, 08:00 JST" in timeline
    page.screenshot(path=str(tmp_path / "timeline.png"), full_page=True)
    with page.expect_navigation():
        page.get_by_role("button", name="Pause").click()
    assert "Done: pause." in page.locator(".notice").inner_text()
    assert page.get_by_role("button", name="Resume").is_visible()
    assert engine.store.get_enrollment(enrollment.id).state is EnrollmentState.PAUSED  # type: ignore[union-attr]


def test_a_clinic_acknowledges_a_red_flag_reply(
    page: Any, server: str, clinic: tuple[str, str], delivery: DeliveryDeps, clinic_store: ClinicStore,
    tmp_path: Path,
) -> None:  # fmt: skip
    engine = delivery.engine
    enrollment, _ = enroll(engine, new_enrollment("MRN-0042", clinic_id=clinic[0]))
    dispatch_window(delivery, send_inline(delivery), window_seconds=0, sleep=lambda _s: None)  # the welcome SMS
    handle_inbound(engine, clinic_store, "+14155552671", "I have chest pain since the new pills", engine.clock.now(),
                   message_sid="SM1")  # fmt: skip
    _sign_in(page, server, clinic[1])
    # The clinic's list (newest first) leads to the patient, paused by the red flag.
    row = page.locator("tr", has_text="MRN-0042")
    assert "paused" in row.inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= 360  # the list fits 360 px
    with page.expect_navigation():
        row.get_by_role("link", name=enrollment.id).click()
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


def test_an_operator_resends_an_unknown_message_once(
    page: Any, server: str, operator: tuple[str, str], clinic: tuple[str, str], delivery: DeliveryDeps,
    tmp_path: Path,
) -> None:  # fmt: skip
    from tests.console.conftest import stamp_unknown

    engine = delivery.engine
    clock = engine.clock
    assert isinstance(clock, FixedClock)
    enrollment, _ = enroll(engine, new_enrollment("MRN-9", clinic_id=clinic[0], channels=("sms",), email=None))
    mid = stamp_unknown(delivery, enrollment)
    clock.set(datetime(2026, 3, 3, 13, 0, tzinfo=UTC))  # 08:00 next morning in New York: the caps allow it
    _sign_in(page, server, operator[1])
    with page.expect_navigation():
        page.locator("#unknown-list").get_by_role("link", name="Resend…").click()
    assert "text them twice" in page.inner_text("main")
    with page.expect_navigation():
        page.get_by_role("button", name="Yes, resend it").click()
    assert page.locator("#outcome").inner_text() == f"sent {enrollment.id}.welcome.sms.2"
    page.screenshot(path=str(tmp_path / "resent.png"), full_page=True)
    page.goto(f"{server}/console/messages/{mid}/resend")  # again: the same rules refuse a second one
    with page.expect_navigation():
        page.get_by_role("button", name="Yes, resend it").click()
    assert "already resent" in page.locator("#outcome").inner_text()
    sent = [r for r in engine.store.records(enrollment.id) if r.state is MessageState.SENT]
    assert [r.id for r in sent] == [f"{enrollment.id}.welcome.sms.2"]


def test_a_program_calendar_in_spanish(page: Any, server: str, clinic: tuple[str, str], tmp_path: Path) -> None:
    _sign_in(page, server, clinic[1])
    with page.expect_navigation():
        page.get_by_role("link", name="Programs").click()
    page.get_by_label("Language").select_option("es")
    with page.expect_navigation():
        page.get_by_role("button", name="Show calendar").click()
    first = page.locator("article.message.sms").first
    assert first.get_attribute("lang") == "es"
    assert "STOP" in first.locator(".bubble").inner_text()
    assert "UCS-2" in page.inner_text("main") or "GSM-7" in first.inner_text()
    assert page.locator("article.message").count() > 10
    page.screenshot(path=str(tmp_path / "calendar-es.png"), full_page=True)
    page.screenshot(path=str(tmp_path / "calendar-es-top.png"))  # the first screen, as a phone shows it


def test_a_forged_session_and_a_missing_csrf_token_get_4xx(
    page: Any, server: str, clinic: tuple[str, str], engine: EngineDeps, tmp_path: Path
) -> None:
    enrollment, _ = enroll(engine, new_enrollment("MRN-1", clinic_id=clinic[0]))
    page.context.add_cookies([{"name": "cd_console", "value": "F" * 43, "domain": "127.0.0.1", "path": "/console"}])
    answer = page.goto(f"{server}/console/patients/{enrollment.id}")
    assert answer.status == 401 and page.get_by_role("heading", name="Your session is not valid").is_visible()
    page.screenshot(path=str(tmp_path / "forged.png"), full_page=True)
    _sign_in(page, server, clinic[1])
    page.goto(f"{server}/console/patients/{enrollment.id}")
    page.evaluate("document.querySelectorAll('input[name=csrf]').forEach(e => e.remove())")
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.get_by_role("button", name="Pause").click()
    assert posted.value.status == 403
    assert page.get_by_role("heading", name="Form expired or forged").is_visible()
    assert engine.store.get_enrollment(enrollment.id).state is EnrollmentState.ACTIVE  # type: ignore[union-attr]
