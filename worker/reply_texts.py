"""The words caredrip answers a patient's text with, per language: the safety message a red-flag
reply gets, and the answers to HELP, STOP, START and PAUSE.

They live in each program's strings files under `_replies` (content/README.md, "Replies"), as
Jinja templates with `clinic_name`, `clinic_phone` (either may be empty) and, for PAUSE, `until`
(rendered from the language's `date` template, `weekdays` and `months`). Loading checks every
template by rendering it, so `ReplyTexts.text` never fails on content once loaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from worker.content_yaml import read_yaml_mapping
from worker.errors import ContentError

KEY = "_replies"
_ENV = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
_SAMPLE_DATE = date(2026, 9, 30)


class ReplyKind(StrEnum):
    """The replies a program words, by their key under `_replies`."""

    SAFETY = "safety"
    HELP = "help"
    STOP = "stop"
    START = "start"
    PAUSE = "pause"


@dataclass(frozen=True, slots=True)
class LanguageReplies:
    """One language's reply templates and the names its dates are written with."""

    templates: dict[ReplyKind, Template]
    date_format: Template
    weekdays: tuple[str, ...]  # Monday first, as date.weekday() counts
    months: tuple[str, ...]  # January first

    def until(self, day: date) -> str:
        """`day` written the language's way: 'Wednesday, September 30', '30 de septiembre'."""
        names = {"weekday": self.weekdays[day.weekday()], "month": self.months[day.month - 1], "day": day.day}
        return " ".join(self.date_format.render(names).split())


@dataclass(frozen=True, slots=True)
class ReplyTexts:
    """One program's replies in every language; the first language is the default."""

    languages: dict[str, LanguageReplies]

    def text(
        self,
        kind: ReplyKind,
        language: str,
        *,
        clinic_name: str = "",
        clinic_phone: str = "",
        until: date | None = None,
    ) -> str:
        """The reply of `kind` in `language` ('es-MX' falls back to 'es', an unknown one to the
        default language), with
        the clinic's name and phone as they should read (e.g. '+1 555-010-2345'). PAUSE needs
        `until`, the patient's local date the pause ends; other kinds ignore it."""
        root = language.replace("_", "-").split("-")[0].lower()
        replies = self.languages.get(language) or self.languages.get(root) or next(iter(self.languages.values()))
        if kind is ReplyKind.PAUSE and until is None:
            raise ValueError("a PAUSE reply needs `until`")
        values = {"clinic_name": clinic_name.strip(), "clinic_phone": clinic_phone.strip()}
        values["until"] = replies.until(until) if until is not None else ""
        return " ".join(replies.templates[kind].render(values).split())


def load_reply_texts(content_dir: Path, program_id: str) -> ReplyTexts:
    """Read `_replies` from the strings file of each language in program.yaml; raise ContentError
    naming the file and field when one is missing, malformed or does not render."""
    folder = content_dir / program_id
    languages = _read(folder / "program.yaml").get("languages")
    if not isinstance(languages, list) or not languages:
        raise ContentError(f"{folder / 'program.yaml'}: languages: at least one is needed")
    return ReplyTexts({str(lang): _language(folder / "strings" / f"{lang}.yaml") for lang in languages})


@cache
def reply_texts_for(content_dir: Path, program_id: str) -> ReplyTexts:
    """`load_reply_texts`, once per process and program."""
    return load_reply_texts(content_dir, program_id)


def _language(path: Path) -> LanguageReplies:
    block = _read(path).get(KEY)
    where = f"{path}: {KEY}"
    if not isinstance(block, dict):
        raise ContentError(f"{where}: a mapping of {', '.join(ReplyKind)}, date, weekdays, months is needed")
    names = {
        field: _names(block.get(field), f"{where}.{field}", count) for field, count in (("weekdays", 7), ("months", 12))
    }
    replies = LanguageReplies(
        templates={kind: _template(block.get(kind.value), f"{where}.{kind.value}") for kind in ReplyKind},
        date_format=_template(block.get("date"), f"{where}.date"),
        weekdays=names["weekdays"],
        months=names["months"],
    )
    try:
        until = replies.until(_SAMPLE_DATE)
    except TemplateError as exc:
        raise ContentError(f"{where}.date: does not render: {exc}") from None
    for kind in ReplyKind:
        try:
            replies.templates[kind].render(clinic_name="Clinic", clinic_phone="1", until=until)
        except TemplateError as exc:
            raise ContentError(f"{where}.{kind.value}: does not render: {exc}") from None
    return replies


def _template(source: Any, where: str) -> Template:
    if not isinstance(source, str) or not source.strip():
        raise ContentError(f"{where}: missing text")
    try:
        return _ENV.from_string(source)
    except TemplateError as exc:
        raise ContentError(f"{where}: not a valid template: {exc}") from None


def _names(value: Any, where: str, count: int) -> tuple[str, ...]:
    if not isinstance(value, list) or len(value) != count or not all(isinstance(v, str) and v.strip() for v in value):
        raise ContentError(f"{where}: a list of {count} names is needed")
    return tuple(value)


def _read(path: Path) -> dict[str, Any]:
    return read_yaml_mapping(path)
