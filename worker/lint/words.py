"""The words rules of `caredrip lint`: realistic sample values, SMS budget and encoding, the first
SMS's sender and STOP / HELP, reading level; and the line format they report in
(`<program>/<lang>/<step>.<key>: <rule>: <detail>`).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from worker.errors import RenderError
from worker.programs import Program
from worker.readability import grade_level
from worker.render import RenderedSms, split_blocks
from worker.segments import GSM7, is_gsm7

SAMPLE_FIRST_NAME = "Alexandrina"
SAMPLE_CLINIC_NAMES = {"en": "Riverside Family Health Clinic", "es": "Clínica Familiar Riverside"}
SAMPLE_CLINIC_PHONE = "+1 (555) 010-2345"
SAMPLE_UNSUBSCRIBE_URL = "https://caredrip.example.org/unsubscribe/c2FtcGxlLWVucm9sbG1lbnQ.Zm9yLWxpbnQ"
STOP_HELP_EN = "Reply STOP to opt out, HELP for help"
MAX_ENGLISH_GRADE = 8.0


def realistic_context(program: Program, language: str) -> dict[str, str]:
    """Long, realistic values for every template variable, in `language` where it matters."""
    return {
        "first_name": SAMPLE_FIRST_NAME,
        "clinic_name": SAMPLE_CLINIC_NAMES.get(language_root(language), SAMPLE_CLINIC_NAMES["en"]),
        "clinic_phone": SAMPLE_CLINIC_PHONE,
        "program_name": program.name,
        "unsubscribe_url": SAMPLE_UNSUBSCRIBE_URL,
    }


def sms_problems(sms: RenderedSms, program: Program, language: str, *, fits_with_fallback: bool = False) -> list[str]:
    """Budget and encoding of one SMS rendered with the real sample name (never the fallback)."""
    problems: list[str] = []
    budget = program.sms_segment_budget[language]
    if sms.segments > budget:
        note = (
            f" (fits only with the fallback name {program.fallback_first_name[language]!r})"
            if fits_with_fallback
            else ""
        )
        problems.append(
            f"over budget: {sms.segments} segments ({sms.encoding}, {len(sms.body)} characters)"
            f" with first_name {SAMPLE_FIRST_NAME!r}, budget {budget}{note}"
        )
    if language_root(language) == "en" and sms.encoding != GSM7:
        odd = "".join(sorted({ch for ch in sms.body if not is_gsm7(ch)}))
        codes = ", ".join(f"U+{ord(ch):04X}" for ch in odd)
        problems.append(f"not GSM-7: {odd!r} ({codes}) makes it UCS-2; English SMS must be GSM-7")
    return problems


def first_sms_problems(body: str, language: str, context: dict[str, str]) -> list[str]:
    """The first SMS names the sender and says how to opt out and get help."""
    problems: list[str] = []
    if context["clinic_name"] not in body:
        problems.append(f"does not name the sender ({{{{ clinic_name }}}}, e.g. {context['clinic_name']!r})")
    if language_root(language) == "en":
        if STOP_HELP_EN not in body:
            problems.append(f"does not say {STOP_HELP_EN!r}")
    else:
        missing = [word for word in ("STOP", "HELP") if word not in body]
        if missing:
            problems.append(f"lacks the keyword{'s' if len(missing) > 1 else ''} {' and '.join(missing)}")
    return problems


@lru_cache(maxsize=4096)
def cached_grade(text: str, language: str, data_dir: Path | None) -> float:
    """`grade_level`, once per text: lint reruns (tests, editors) cost nothing."""
    return grade_level(text, language, data_dir=data_dir)


def email_words(text: str) -> str:
    """The step's own words from a rendered plain-text email: the footer cut, each list item a sentence."""
    body = text.split("\n--\n", 1)[0]
    sentences: list[str] = []
    for block in split_blocks(body):
        for item in block.items:
            item = item.strip()
            sentences.append(item if item.endswith((".", "!", "?", ":")) else f"{item.rstrip(',;')}.")
    return " ".join(sentences)


def render_problem(where: str, exc: RenderError) -> str:
    """`<where>: render error: <detail>`, using the renderer's own location when it names one."""
    message = str(exc)
    prefix = where.rsplit(".", 1)[0] + "."
    if message.startswith(prefix) and ": " in message:
        location, detail = message.split(": ", 1)
        return f"{location}: render error: {detail}"
    return f"{where}: render error: {message}"


def step_location(program: Program, language: str, step_id: str, key: str) -> str:
    """`<program>/<lang>/<step>.<key>`: where a words problem is."""
    return f"{program.id}/{language}/{step_id}.{key}"


def language_root(language: str) -> str:
    """`es` for `es`, `es-MX` or `es_MX`."""
    return language.replace("-", "_").split("_", 1)[0].lower()


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"
