"""Accessibility checked without a browser: every text colour of the console's CSS on every
surface it paints meets WCAG AA (4.5:1), the focus ring and chart lines 3:1 (non-text), and every
control of every page has a label (the browser tests check focus, keyboard and 360 px)."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from itertools import product

import pytest
from starlette.testclient import TestClient

from worker.console.views import STATIC
from worker.records import Enrollment

CSS = (STATIC / "console.css").read_text()
JS = (STATIC / "console.js").read_text()
WHITE = "#ffffff"


def _hex(colour: str) -> str:
    c = colour.lower().lstrip("#")
    return "#" + ("".join(ch * 2 for ch in c) if len(c) == 3 else c)


def luminance(colour: str) -> float:
    """WCAG 2 relative luminance of a #rrggbb colour."""
    channels = [int(_hex(colour)[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    r, g, b = (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def _values(prop: str) -> set[str]:
    return {_hex(v) for v in re.findall(rf"(?<![-\w]){prop}:\s*(#[0-9a-fA-F]{{3,6}})", CSS)}


@pytest.mark.parametrize(("fg", "bg", "expected"), [("#000", "#fff", 21.0), ("#fff", "#fff", 1.0),
                                                    ("#767676", "#fff", 4.54)])  # fmt: skip
def test_the_contrast_formula(fg: str, bg: str, expected: float) -> None:
    assert contrast(fg, bg) == pytest.approx(expected, abs=0.01)


def test_every_dark_text_colour_reads_on_every_light_surface() -> None:
    surfaces = {c for c in _values("background") if luminance(c) > 0.5} | {WHITE}
    texts = {c for c in _values("color") if luminance(c) < 0.5}
    assert len(surfaces) >= 6 and len(texts) >= 6  # the check sees the stylesheet's palette
    low = [(t, s, round(contrast(t, s), 2)) for t, s in product(texts, surfaces) if contrast(t, s) < 4.5]
    assert low == []


def test_light_text_reads_on_every_dark_fill() -> None:
    fills = {c for c in _values("background") if luminance(c) < 0.5}
    assert fills and all(contrast(WHITE, f) >= 4.5 for f in fills), fills


def test_the_focus_ring_and_chart_lines_stand_out_on_white() -> None:
    ring = re.search(r":focus-visible\s*{[^}]*outline:\s*\d+px solid (#[0-9a-fA-F]{3,6})", CSS)
    assert ring and contrast(ring.group(1), WHITE) >= 3.0
    lines = re.findall(r'stroke: "(#[0-9a-fA-F]{6})"', JS)
    assert len(lines) >= 6 and all(contrast(c, WHITE) >= 3.0 for c in lines)


class _Controls(HTMLParser):
    """Each control's accessible name: a <label for>, an enclosing <label>, aria-label, or text."""

    def __init__(self) -> None:
        super().__init__()
        self.labelled_ids: set[str] = set()
        self.controls: list[tuple[str, dict[str, str | None], bool]] = []
        self.buttons: list[str] = []
        self._in_label = 0
        self._button: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "label":
            self._in_label += 1
            if a.get("for"):
                self.labelled_ids.add(str(a["for"]))
        elif tag in ("input", "select", "textarea") and a.get("type") != "hidden":
            self.controls.append((tag, a, self._in_label > 0))
        elif tag == "button":
            self._button = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self._in_label -= 1
        elif tag == "button" and self._button is not None:
            self.buttons.append("".join(self._button).strip())
            self._button = None

    def handle_data(self, data: str) -> None:
        if self._button is not None:
            self._button.append(data)


def test_every_control_on_every_page_has_a_label(
    as_clinic: TestClient, as_operator: TestClient, browser_client: TestClient, patient: Enrollment
) -> None:
    pages = [(browser_client, "/console/signin"), (as_clinic, "/console/patients"),
             (as_clinic, f"/console/patients/{patient.id}"), (as_clinic, "/console/programs"),
             (as_clinic, "/console/programs/twitching?language=es"), (as_operator, "/console/operations")]  # fmt: skip
    seen = 0
    for client, path in pages:
        answer = client.get(path)
        assert answer.status_code == 200, path
        found = _Controls()
        found.feed(answer.text)
        for tag, attrs, wrapped in found.controls:
            named = wrapped or attrs.get("aria-label") or attrs.get("id") in found.labelled_ids
            assert named, (path, tag, attrs)
            seen += 1
        assert all(found.buttons), (path, found.buttons)
        assert '<html lang="' in answer.text and "<h1" in answer.text, path
    assert seen >= 8
