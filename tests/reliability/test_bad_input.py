"""Bad enrollment input through the HTTP API: each refused with 422 (413 for a huge body) naming
the field, and nothing stored. Odd names that are valid come out literally, never evaluated."""

from __future__ import annotations

import html
import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import enrollment_body
from tests.support.engine import ROOT, outbox_lines, run_until_idle
from worker.delivery.types import DeliveryDeps
from worker.programs import load_program
from worker.store import Store

BAD_FIELDS: list[tuple[str, dict[str, Any], str]] = [
    ("invalid number", {"phone": "+1555000"}, "phone"),
    ("not a number", {"phone": "call me"}, "phone"),
    ("UK landline", {"phone": "+442079460018"}, "phone"),
    ("national format, no region", {"phone": "(415) 555-2671"}, "phone"),
    ("email with CR/LF", {"email": "ana@example.com\r\nBcc: all@example.com"}, "email"),
    ("email with LF", {"email": "ana@example.com\nX-Evil: 1"}, "email"),
    ("unknown timezone", {"timezone": "Mars/Olympus_Mons"}, "timezone"),
    ("start_at 1900", {"start_at": "1900-01-01T10:00:00Z"}, "start_at"),
    ("start_at 2200", {"start_at": "2200-01-01T10:00:00Z"}, "start_at"),
    ("start_at without offset", {"start_at": "2026-03-05T10:00:00"}, "start_at"),
    ("unknown program", {"program": "no-such-program"}, "program"),
    ("unknown language", {"language": "fr"}, "language"),
    ("channels a string", {"channels": "sms"}, "channels"),
    ("unknown channel", {"channels": ["fax"]}, "channels"),
    ("consent a list", {"consent": ["sms"]}, "consent"),
    ("first_name a number", {"first_name": 123}, "first_name"),
    ("patient_ref null", {"patient_ref": []}, "patient_ref"),
    ("first_name 500 characters", {"first_name": "A" * 500}, "first_name"),
    ("first_name with NUL", {"first_name": "An\x00a"}, "first_name"),
    ("first_name with BEL", {"first_name": "Ana\x07"}, "first_name"),
    ("first_name with newline", {"first_name": "Ana\nBcc"}, "first_name"),
    ("first_name with RTL override", {"first_name": "Ana\u202egnp.exe"}, "first_name"),
    ("first_name empty", {"first_name": "   "}, "first_name"),
    ("no consent for sms", {"consent": {"sms": False, "email": True, "recorded_at": "2026-01-01T00:00:00Z"}},
     "consent"),
    ("sms without phone", {"phone": None}, "phone"),
    ("unexpected field", {"is_admin": True}, "is_admin"),
]


def nothing_stored(store: Store) -> bool:
    """No enrollment, no due entry: the request left no trace in Redis."""
    return not store.redis.keys("cd:{e:*") and not store.redis.keys("cd:{due:*")


@pytest.mark.parametrize(("overrides", "field"), [pytest.param(o, f, id=name) for name, o, f in BAD_FIELDS])
def test_bad_field_is_422_naming_it_and_nothing_stored(client: TestClient, store: Store,
                                                       overrides: dict[str, Any], field: str) -> None:
    """Each malformed field answers 422 with its name in `loc`, and Redis holds no enrollment."""
    response = client.post("/v1/enrollments", json=enrollment_body(**overrides))
    assert response.status_code == 422, response.text
    fields = {part for error in response.json()["detail"] for part in error["loc"]}
    assert field in fields, response.json()
    assert nothing_stored(store)


# Issue 13 items 12 and 5: input that today's code rewrote or took, each now 422 with the exact field.
CONSENT_AT = "2026-03-02T14:00:00Z"  # the fixtures' clock reads 2026-03-02 15:00Z
STRICT: list[tuple[str, dict[str, Any], list[str], str]] = [
    ("phone with letters", {"phone": "+1415555ABCD"}, ["phone"], "letters"),
    ("phone with an extension", {"phone": "+14155552671 ext. 5"}, ["phone"], "extension"),
    ("phone with ;ext=", {"phone": "+14155552671;ext=5"}, ["phone"], "extension"),
    ("phone with spaces", {"phone": "+1 415 555 2671"}, ["phone"], "spaces"),
    ("phone with dashes", {"phone": "+1-415-555-2671"}, ["phone"], "dashes"),
    ("phone with parentheses", {"phone": "+1 (415) 555-2671"}, ["phone"], "parentheses"),
    ("phone with a fullwidth digit", {"phone": "+1415555267\uff11"}, ["phone"], "E.164"),
    ("phone with a trunk 0", {"phone": "+4407911123456"}, ["phone"], "national prefix"),
    ("timezone localtime", {"timezone": "localtime"}, ["timezone"], "not a place"),
    ("timezone Factory", {"timezone": "Factory"}, ["timezone"], "not a place"),
    ("timezone US/Eastern", {"timezone": "US/Eastern"}, ["timezone"], "use the canonical name America/New_York"),
    ("timezone Asia/Calcutta", {"timezone": "Asia/Calcutta"}, ["timezone"], "use the canonical name Asia/Kolkata"),
    ("consent sms 'yes'", {"consent": {"sms": "yes", "email": True, "recorded_at": CONSENT_AT}},
     ["consent", "sms"], "boolean"),
    ("consent sms 1", {"consent": {"sms": 1, "email": True, "recorded_at": CONSENT_AT}}, ["consent", "sms"], "boolean"),
    ("consent email 'true'", {"consent": {"sms": True, "email": "true", "recorded_at": CONSENT_AT}},
     ["consent", "email"], "boolean"),
    ("consent recorded tomorrow", {"consent": {"sms": True, "email": True, "recorded_at": "2026-03-03T15:00:00Z"}},
     ["consent", "recorded_at"], "future"),
    ("consent recorded 6 minutes ahead",
     {"consent": {"sms": True, "email": True, "recorded_at": "2026-03-02T15:06:00Z"}}, ["consent", "recorded_at"],
     "future"),
]


@pytest.mark.parametrize(("overrides", "loc", "words"), [pytest.param(o, lo, w, id=n) for n, o, lo, w in STRICT])
def test_input_is_taken_as_sent_or_refused_naming_the_field(
    client: TestClient, store: Store, overrides: dict[str, Any], loc: list[str], words: str
) -> None:
    """Never rewritten (a keypad letter is not a digit, a link is not its zone, "yes" is not true):
    422 with the field's exact `loc` and the reason, and nothing stored."""
    response = client.post("/v1/enrollments", json=enrollment_body(**overrides))
    assert response.status_code == 422, response.text
    error = response.json()["detail"][0]
    assert error["loc"] == ["body", *loc], response.json()
    assert words in error["msg"], error
    assert nothing_stored(store)


def test_consent_recorded_within_the_clock_skew_is_taken(client: TestClient) -> None:
    """A clinic clock up to 5 minutes ahead of caredrip's is not refused."""
    consent = {"sms": True, "email": True, "recorded_at": "2026-03-02T15:04:59Z"}
    assert client.post("/v1/enrollments", json=enrollment_body(consent=consent)).status_code == 201


PATCHES: list[tuple[str, dict[str, Any], list[str]]] = [
    ("new phone without consent", {"phone": "+14155552672"}, ["consent", "sms"]),
    ("new phone with email consent only", {"phone": "+14155552672", "consent": {"email": True,
                                                                                "recorded_at": CONSENT_AT}},
     ["consent", "sms"]),
    ("new phone, consent in the future", {"phone": "+14155552672", "consent": {"sms": True,
                                                                               "recorded_at": "2026-03-03T00:00:00Z"}},
     ["consent", "recorded_at"]),
    ("phone with letters", {"phone": "+1415555ABCD", "consent": {"sms": True, "recorded_at": CONSENT_AT}}, ["phone"]),
    ("phone with spaces", {"phone": "+1 415 555 2672", "consent": {"sms": True, "recorded_at": CONSENT_AT}},
     ["phone"]),
    ("timezone US/Eastern", {"timezone": "US/Eastern"}, ["timezone"]),
    ("timezone localtime", {"timezone": "localtime"}, ["timezone"]),
    ("consent sms 'yes'", {"consent": {"sms": "yes", "recorded_at": CONSENT_AT}}, ["consent", "sms"]),
]


@pytest.mark.parametrize(("patch", "loc"), [pytest.param(p, lo, id=n) for n, p, lo in PATCHES])
def test_bad_patch_is_422_naming_the_field_and_changes_nothing(
    client: TestClient, enrolled: dict[str, Any], patch: dict[str, Any], loc: list[str]
) -> None:
    """A PATCH that changes the number texted must carry fresh SMS consent (item 5); the strict
    phone, zone and consent rules hold for PATCH as for POST (item 12)."""
    url = f"/v1/enrollments/{enrolled['id']}"
    response = client.patch(url, json=patch)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["body", *loc]
    assert client.get(url).json() == enrolled


def test_phone_change_with_fresh_sms_consent_is_taken(client: TestClient, enrolled: dict[str, Any]) -> None:
    url = f"/v1/enrollments/{enrolled['id']}"
    same = client.patch(url, json={"phone": enrolled["phone"]})
    assert same.status_code == 200, "the same number again needs no new consent"
    changed = client.patch(url, json={"phone": "+14155552672", "consent": {"sms": True, "recorded_at": CONSENT_AT}})
    assert changed.status_code == 200, changed.text
    assert changed.json()["phone"] == "+14155552672"


@pytest.mark.parametrize("body", [b"", b"{", b"[]", b"null", b'"sms"', b"\xff\xfe"], ids=repr)
def test_malformed_json_is_422_and_nothing_stored(client: TestClient, store: Store, body: bytes) -> None:
    """An empty body, broken JSON or JSON of the wrong type answers 422 on `body`."""
    response = client.post("/v1/enrollments", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"][0] == "body"
    assert nothing_stored(store)


def test_one_megabyte_body_is_refused_and_nothing_stored(client: TestClient, store: Store) -> None:
    """A 1 MB body (a valid enrollment padded with a huge name) is refused with 413 before parsing."""
    body = json.dumps(enrollment_body(first_name="A" * 1_000_000)).encode()
    response = client.post("/v1/enrollments", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert nothing_stored(store)


def _without_links(text: str) -> str:
    """The text without URLs (their tokens are hex and may contain any digits)."""
    return re.sub(r"https?://[^\s\"'<>]+", "", text)


ODD_NAMES = {
    "template": "{{ 7*7 }}",
    "html": "<b>Ana</b>",
    "accents": "José O'Brien-Núñez",
    "emoji": "Ana 😀",
}


def test_odd_names_come_out_literally(client: TestClient, delivery: DeliveryDeps, outbox: Path) -> None:
    """Names that look like templates, HTML, accents and emoji are accepted and printed as data:
    never evaluated (no "49"), escaped in HTML, literal in text; an SMS they push past its segment
    budget falls back to the program's fallback name and stays within budget."""
    program = load_program(ROOT / "content", "twitching")
    budget, fallback = program.sms_segment_budget["en"], program.fallback_first_name["en"]
    ids = {}
    for i, (key, name) in enumerate(ODD_NAMES.items()):
        # a number each: caps count per number (issue 13 item 3), and each welcome goes today
        body = enrollment_body(patient_ref=f"odd-{key}", first_name=name, phone=f"+1415555267{i + 2}")
        response = client.post("/v1/enrollments", json=body)
        assert response.status_code == 201, response.text
        assert response.json()["first_name"] == name
        ids[response.json()["id"]] = name
    run_until_idle(delivery, until=delivery.engine.clock.now() + timedelta(hours=1))
    lines = [line for line in outbox_lines(outbox) if line["step"] == "welcome"]
    assert len(lines) == 2 * len(ODD_NAMES)
    for line in lines:
        name = ids[line["enrollment_id"]]
        assert not re.search(r"\b49\b", _without_links(line["body"] + line.get("html", ""))), "evaluated"
        if line["channel"] == "email":
            assert name in line["body"], "plain text: the name literally"
            assert name in html.unescape(line["html"])
            assert "<b>Ana</b>" not in line["html"], "HTML: the name escaped, never markup"
        else:
            assert line["segments"] <= budget, line
            assert name in line["body"] or f" {fallback}," in line["body"], line["body"]
            if "😀" in name and name in line["body"]:
                assert line["encoding"] == "UCS-2"
    html_line = next(x for x in lines if x["channel"] == "email" and ids[x["enrollment_id"]] == "<b>Ana</b>")
    assert "&lt;b&gt;Ana&lt;/b&gt;" in html_line["html"]
    emoji_sms = next(line for line in lines if line["channel"] == "sms" and "😀" in ids[line["enrollment_id"]])
    print(f"\nRELIABILITY emoji SMS: encoding={emoji_sms['encoding']} segments={emoji_sms['segments']} "
          f"fallback={'😀' not in emoji_sms['body']}")
