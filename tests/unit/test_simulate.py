"""`caredrip simulate`: the whole timeline, in the JSON shape DESIGN documents, and as a table."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from worker.policy import Caps, QuietHours
from worker.programs import Program, load_program
from worker.render import Renderer
from worker.simulate import format_table, sample_context, simulate

ROOT = Path(__file__).resolve().parents[2]
QUIET = QuietHours(time(21, 0), time(8, 0))
CAPS = Caps({"sms": 1}, {"sms": 3})
NY = ZoneInfo("America/New_York")
START = datetime(2026, 2, 20, 22, 15, tzinfo=NY)  # in quiet hours; the program crosses spring-forward


@pytest.fixture(scope="module")
def program() -> Program:
    return load_program(ROOT / "content", "twitching")


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer(ROOT / "templates")


def run(program: Program, renderer: Renderer, **overrides: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "timezone": "America/New_York",
        "language": "en",
        "channels": ["sms", "email"],
        "start": START,
        "days": 28,
        "quiet": QUIET,
        "caps": CAPS,
        "context": {},
        **overrides,
    }
    return simulate(program, renderer, **args)


def test_28_days_has_every_step_on_both_channels(program: Program, renderer: Renderer) -> None:
    result = run(program, renderer)
    assert list(result) == ["program", "timezone", "language", "channels", "start", "messages"]
    assert (result["program"], result["timezone"], result["language"]) == ("twitching", "America/New_York", "en")
    assert result["channels"] == ["sms", "email"]
    assert result["start"] == "2026-02-20T22:15:00-05:00"
    messages = result["messages"]
    steps = [s.id for s in program.steps]
    for channel in ("sms", "email"):
        assert [m["step"] for m in messages if m["channel"] == channel] == steps


def test_json_shape_per_channel(program: Program, renderer: Renderer) -> None:
    result = run(program, renderer)
    assert json.loads(json.dumps(result)) == result
    for message in result["messages"]:
        common = ["step", "channel", "local_time", "utc_time", "body"]
        extra = ["segments", "encoding"] if message["channel"] == "sms" else ["subject"]
        assert sorted(message) == sorted(common + extra)
        assert message["utc_time"].endswith("+00:00")
        local = datetime.fromisoformat(message["local_time"])
        assert local == datetime.fromisoformat(message["utc_time"])
        assert local.utcoffset() == local.astimezone(NY).utcoffset()
    sms = next(m for m in result["messages"] if m["channel"] == "sms")
    assert (sms["segments"], sms["encoding"]) == (1, "GSM-7")
    assert sms["body"].startswith("Hi Ana, this is Your Clinic.")
    email = next(m for m in result["messages"] if m["channel"] == "email")
    assert email["subject"] == "Welcome to your muscle twitching tips"
    assert "Unsubscribe from these emails: http://localhost:8000/unsubscribe/sample" in email["body"]


def test_send_order_and_never_in_quiet_hours(program: Program, renderer: Renderer) -> None:
    messages = run(program, renderer)["messages"]
    instants = [datetime.fromisoformat(m["utc_time"]) for m in messages]
    assert instants == sorted(instants)
    for message in messages:
        assert not QUIET.contains(datetime.fromisoformat(message["local_time"]).time())
    welcome = messages[0]
    assert welcome["local_time"] == "2026-02-21T08:00:00-05:00"  # moved out of the night
    offsets = {datetime.fromisoformat(m["local_time"]).utcoffset() for m in messages}
    assert offsets == {timedelta(hours=-5), timedelta(hours=-4)}


def test_sms_caps_hold_per_local_day(program: Program, renderer: Renderer) -> None:
    messages = run(program, renderer, channels=["sms"])["messages"]
    days = [datetime.fromisoformat(m["local_time"]).date() for m in messages]
    assert len(days) == len(set(days)) == 11


def test_spanish(program: Program, renderer: Renderer) -> None:
    result = run(program, renderer, language="es", context={"first_name": "José", "clinic_name": "Clínica Sol"})
    assert result["language"] == "es"
    first_sms = next(m for m in result["messages"] if m["channel"] == "sms")
    assert first_sms["body"].startswith("Clínica Sol: consejos")
    assert "STOP" in first_sms["body"] and "HELP" in first_sms["body"]
    assert first_sms["encoding"] == "UCS-2"
    email = next(m for m in result["messages"] if m["channel"] == "email")
    assert email["body"].startswith("Hola, José:")
    assert "llama al 911" in email["body"]


def test_sms_only(program: Program, renderer: Renderer) -> None:
    result = run(program, renderer, channels=["sms"])
    assert result["channels"] == ["sms"]
    assert {m["channel"] for m in result["messages"]} == {"sms"}
    assert len(result["messages"]) == 11


def test_days_cut_the_timeline(program: Program, renderer: Renderer) -> None:
    start = datetime(2026, 5, 4, 9, 0, tzinfo=NY)
    result = run(program, renderer, start=start, days=3)
    assert [(m["step"], m["channel"]) for m in result["messages"]] == [
        ("welcome", "email"),
        ("welcome", "sms"),
        ("hydration", "email"),
        ("hydration", "sms"),
    ]
    assert run(program, renderer, start=start, days=0)["messages"] == []


def test_context_overrides_samples(program: Program) -> None:
    assert sample_context(program) == {
        "first_name": "Ana",
        "clinic_name": "Your Clinic",
        "clinic_phone": "+1 555 010 0000",
        "program_name": "Muscle twitching",
        "unsubscribe_url": "http://localhost:8000/unsubscribe/sample",
    }
    assert sample_context(program, first_name="Bo")["first_name"] == "Bo"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"language": "fr"}, "no language 'fr'"),
        ({"channels": ["fax"]}, "channels: expected one or more of sms, email"),
        ({"channels": []}, "channels: expected one or more of sms, email"),
        ({"timezone": "Mars/Olympus"}, "unknown IANA timezone"),
        ({"start": datetime(2026, 5, 4, 9, 0)}, "naive datetime"),
    ],
)
def test_bad_arguments(program: Program, renderer: Renderer, overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        run(program, renderer, **overrides)


def test_table(program: Program, renderer: Renderer) -> None:
    result = run(program, renderer, start=datetime(2026, 5, 4, 13, 0, tzinfo=UTC), days=3)
    table = format_table(result)
    lines = table.splitlines()
    assert lines[0] == "twitching · America/New_York · en · sms, email · from Mon 2026-05-04 09:00 -0400 · 4 messages"
    assert "Mon 2026-05-04 09:00 -0400  sms    welcome                  1 seg GSM-7" in lines
    assert "Wed 2026-05-06 10:00 -0400  email  hydration" in lines
    assert "    Subject: Water helps calm twitching muscles" in lines
    assert "    Hi Ana, this is Your Clinic. We'll text you tips on muscle twitching, 2-3 a week for 4 weeks." in lines
    assert all(len(line) <= 110 for line in lines)
    assert table.endswith("\n")


def test_anchored_program_needs_its_dates_and_lists_late_skips(renderer: Renderer) -> None:
    """visit-prep (catch_up: latest) for a patient enrolled after both reminders' times: the later
    one goes, the earlier one is listed as skipped; every message at a real local time."""
    visit_prep = load_program(ROOT / "content", "visit-prep")
    with pytest.raises(ValueError, match=r"anchors\.visit: program visit-prep is timed from it"):
        run(visit_prep, renderer)
    with pytest.raises(ValueError, match=r"anchors.surgery: .*its anchors: visit"):
        run(visit_prep, renderer, anchors={"visit": START, "surgery": START})
    start = datetime(2026, 11, 2, 20, 0, tzinfo=NY)  # after notes (31 Oct) and the list (2 Nov 18:00)
    result = run(visit_prep, renderer, start=start, anchors={"visit": datetime(2026, 11, 3, 15, tzinfo=NY)})
    assert result["anchors"] == {"visit": "2026-11-03T15:00:00-05:00"} and result["catch_up"] == "latest"
    sms = [m["step"] for m in result["messages"] if m["channel"] == "sms"]
    assert sms == ["welcome", "medicines-list", "after-visit"]
    assert {(s["step"], s["channel"], s["reason"]) for s in result["skipped"]} == {
        ("notes", "sms", "late"),
        ("notes", "email", "late"),
    }
    assert "skipped: late (catch_up latest)" in format_table(result)
    assert "skipped" not in run(load_program(ROOT / "content", "twitching"), renderer)  # nothing late: no key
