"""Rendering: StrictUndefined, values as data (escaped in HTML only), the fallback name, blocks."""

from __future__ import annotations

from pathlib import Path

import pytest

from worker.errors import RenderError
from worker.programs import Program, Step
from worker.render import Block, Renderer, split_blocks

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
EMOJI_NAME = "Ana \U0001f338"  # a name with an emoji: UCS-2, 70 units a segment

CONTEXT = {
    "first_name": "Ana",
    "clinic_name": "Riverside Clinic",
    "clinic_phone": "+1 555 010 0000",
    "program_name": "Test",
    "unsubscribe_url": "https://caredrip.example.org/unsubscribe/t",
}


def program_with(strings: dict[str, str], *, fallback: str = "there") -> Program:
    return Program(
        id="render-test",
        name="Test",
        languages=("en",),
        sms_segment_budget={"en": 1},
        steps=(Step("tip", ("sms", "email"), day=1, at=None),),
        strings={"en": {"tip": strings}},
        fallback_first_name={"en": fallback},
    )


GREETING = program_with(
    {
        "sms": "Hi {{ first_name }}, drink water today.",
        "subject": "Water for {{ first_name }}",
        "email": "Hi {{ first_name }},\n\nDrink water.\n\n- Keep a bottle near you.\n- Sip all day.",
    }
)


@pytest.fixture
def renderer() -> Renderer:
    """A fresh renderer per test: it caches compiled strings by program id, and these programs share one."""
    return Renderer(TEMPLATES)


@pytest.mark.parametrize("key", ["sms", "subject", "email"])
def test_missing_variable_raises_naming_it(renderer: Renderer, key: str) -> None:
    strings = {"sms": "Hi.", "subject": "Hi.", "email": "Hi.", key: "Hi {{ patient_name }}."}
    program = program_with(strings)
    with pytest.raises(RenderError, match=rf"render-test/en/tip\.{key}: .*'patient_name' is undefined"):
        if key == "sms":
            renderer.sms(program, "tip", "en", CONTEXT)
        else:
            renderer.email(program, "tip", "en", CONTEXT)


def test_layout_variable_missing_raises(renderer: Renderer) -> None:
    context = {k: v for k, v in CONTEXT.items() if k != "unsubscribe_url"}
    with pytest.raises(RenderError, match="unsubscribe_url"):
        renderer.email(GREETING, "tip", "en", context)


def test_missing_translation_is_a_render_error(renderer: Renderer) -> None:
    with pytest.raises(RenderError, match=r"render-test/es/tip\.subject: missing translation"):
        renderer.email(GREETING, "tip", "es", CONTEXT)


def test_html_name_is_escaped_in_html_and_literal_elsewhere(renderer: Renderer) -> None:
    context = {**CONTEXT, "first_name": "<b>Ana</b>"}
    email = renderer.email(GREETING, "tip", "en", context)
    assert "&lt;b&gt;Ana&lt;/b&gt;" in email.html
    assert "<b>Ana</b>" not in email.html
    assert "Hi <b>Ana</b>," in email.text
    assert email.subject == "Water for <b>Ana</b>"
    assert renderer.sms(GREETING, "tip", "en", context).body == "Hi <b>Ana</b>, drink water today."


def test_jinja_in_a_name_is_never_evaluated(renderer: Renderer) -> None:
    context = {**CONTEXT, "first_name": "{{ 7*7 }}"}
    assert renderer.sms(GREETING, "tip", "en", context).body == "Hi {{ 7*7 }}, drink water today."
    email = renderer.email(GREETING, "tip", "en", context)
    assert "{{ 7*7 }}" in email.text
    assert "{{ 7*7 }}" in email.html
    assert "49" not in email.text


def test_clinic_name_is_escaped_in_the_html_layout(renderer: Renderer) -> None:
    context = {**CONTEXT, "clinic_name": "Smith & <Sons>"}
    html = renderer.email(GREETING, "tip", "en", context).html
    assert "Smith &amp; &lt;Sons&gt;" in html
    assert "<Sons>" not in html


def test_sms_segments_and_encoding(renderer: Renderer) -> None:
    sms = renderer.sms(GREETING, "tip", "en", CONTEXT)
    assert (sms.segments, sms.encoding, sms.fallback) == (1, "GSM-7", False)


def test_fallback_name_when_an_emoji_name_pushes_over_budget(renderer: Renderer) -> None:
    text = "Hi {{ first_name }}, " + "drink a glass of water with every meal today. " * 2
    program = program_with({"sms": text.strip()})
    plain = renderer.sms(program, "tip", "en", CONTEXT)
    assert (plain.segments, plain.encoding, plain.fallback) == (1, "GSM-7", False)
    sms = renderer.sms(program, "tip", "en", {**CONTEXT, "first_name": EMOJI_NAME})
    assert sms.fallback is True
    assert sms.body.startswith("Hi there, drink")
    assert (sms.segments, sms.encoding) == (1, "GSM-7")


def test_no_fallback_when_the_name_is_not_the_cause(renderer: Renderer) -> None:
    program = program_with({"sms": "Hi, " + "drink water. " * 20})
    sms = renderer.sms(program, "tip", "en", CONTEXT)
    assert sms.fallback is False
    assert sms.segments == 2


def test_email_text_has_blocks_and_footer(renderer: Renderer) -> None:
    email = renderer.email(GREETING, "tip", "en", CONTEXT)
    assert email.text.startswith("Hi Ana,\n\nDrink water.\n\n  - Keep a bottle near you.\n  - Sip all day.\n")
    assert "Unsubscribe from these emails: https://caredrip.example.org/unsubscribe/t" in email.text
    assert "<li" in email.html and "Sip all day." in email.html
    assert '<html lang="en">' in email.html


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", []),
        ("One line.", [Block("paragraph", ("One line.",))]),
        (
            "First\nline joined.\n\nSecond.",
            [Block("paragraph", ("First line joined.",)), Block("paragraph", ("Second.",))],
        ),
        ("- a\n- b", [Block("list", ("a", "b"))]),
        (
            "Intro:\r\n\r\n- a\r\n-  b  \n\n\n\nEnd.",
            [
                Block("paragraph", ("Intro:",)),
                Block("list", ("a", "b")),
                Block("paragraph", ("End.",)),
            ],
        ),
        ("- a\nnot an item", [Block("paragraph", ("- a not an item",))]),
    ],
)
def test_split_blocks(text: str, expected: list[Block]) -> None:
    assert split_blocks(text) == expected


@pytest.mark.parametrize(
    "source",
    [
        "Hi {{ first_name }}, {{ clinic_name }} ({{ clinic_phone }}).",
        "{% for i in range(2) %}{{ i }}{% endfor %} {{ dict(a=1)['a'] }} {{ first_name|upper }}",
        "{% set ns = namespace(n=0) %}{% set ns.n = 3 %}{{ ns.n }} {{ cycler('a', 'b').next() }}",
    ],
)
def test_renders_as_jinja_renders_with_the_globals(renderer: Renderer, source: str) -> None:
    """The renderer's own context building (globals flattened once a template) gives what
    Template.render gives, globals included, on a first and a cached render."""
    from jinja2 import StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    expected = SandboxedEnvironment(undefined=StrictUndefined).from_string(source).render(CONTEXT)
    program = program_with({"sms": source})
    assert renderer._string(program, "tip", "en", "sms", CONTEXT) == expected
    assert renderer._string(program, "tip", "en", "sms", CONTEXT) == expected


def test_the_sandbox_still_refuses_unsafe_access(renderer: Renderer) -> None:
    program = program_with({"sms": "{{ first_name.__class__.__mro__ }}"})
    with pytest.raises(RenderError, match=r"render-test/en/tip\.sms: "):
        renderer.sms(program, "tip", "en", CONTEXT)
