"""Turn a program step into the words a patient gets: SMS text with its segments, email parts.

Step strings are Jinja templates rendered in a sandbox with StrictUndefined: a variable that is
not provided is an error, never a silent blank. Values (a first name like `{{ 7*7 }}` or
`<b>Ana</b>`) are data, never evaluated; the HTML email escapes them. An SMS that a long or
non-GSM name pushes over its language's segment budget is rendered again with the language's
fallback first name; `RenderedSms.fallback` says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import FileSystemLoader, StrictUndefined, Template, TemplateError, select_autoescape
from jinja2.sandbox import SandboxedEnvironment

from worker.errors import RenderError
from worker.programs import INTRO_ID, Program
from worker.records import Channel
from worker.segments import count_segments


@dataclass(frozen=True, slots=True)
class RenderedSms:
    body: str
    segments: int
    encoding: str
    fallback: bool = False


@dataclass(frozen=True, slots=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


@dataclass(frozen=True, slots=True)
class Block:
    """A paragraph (`items` has one entry) or a bulleted list, from an email body."""

    kind: str
    items: tuple[str, ...]


def split_blocks(text: str) -> list[Block]:
    """Blank lines separate paragraphs; a paragraph of '- ' lines is a bulleted list."""
    blocks: list[Block] = []
    for chunk in (c.strip() for c in text.replace("\r\n", "\n").split("\n\n")):
        if not chunk:
            continue
        lines = [line.strip() for line in chunk.split("\n")]
        if all(line.startswith("- ") for line in lines):
            blocks.append(Block("list", tuple(line[2:].strip() for line in lines)))
        else:
            blocks.append(Block("paragraph", (" ".join(lines),)))
    return blocks


class Renderer:
    """Renders steps of any program; compiled templates are cached for the process."""

    def __init__(self, templates_dir: Path) -> None:
        self._strings_env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
        self._files_env = SandboxedEnvironment(
            loader=FileSystemLoader(str(templates_dir)),
            undefined=StrictUndefined,
            autoescape=select_autoescape(enabled_extensions=("html", "html.j2"), default=False),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self._compiled: dict[str, Template] = {}
        # Each template's globals, flattened once (see _render), by its source text or file name.
        self._globals: dict[str, tuple[Template, dict[str, Any]]] = {}

    def sms(self, program: Program, step_id: str, language: str, context: dict[str, Any]) -> RenderedSms:
        """The SMS text of `step_id`, within budget if the fallback name allows it."""
        if language not in program.sms_segment_budget:
            raise RenderError(f"{program.id}: no language {language!r}")
        budget = program.sms_segment_budget[language]
        rendered = self._sms_once(program, step_id, language, context)
        if rendered.segments <= budget:
            return rendered
        fallback_context = {**context, "first_name": program.fallback_first_name[language]}
        retry = self._sms_once(program, step_id, language, fallback_context)
        if retry.body == rendered.body:
            return rendered
        return RenderedSms(retry.body, retry.segments, retry.encoding, fallback=True)

    def email(self, program: Program, step_id: str, language: str, context: dict[str, Any]) -> RenderedEmail:
        """Subject, plain text and HTML of `step_id`, wrapped in the shared layout."""
        subject = " ".join(self._string(program, step_id, language, "subject", context).split())
        body = self._string(program, step_id, language, "email", context)
        page = {**context, "language": language, "subject": subject, "blocks": split_blocks(body)}
        text = self._file("email/message.txt.j2", page).strip() + "\n"
        html = self._file("email/message.html.j2", page)
        return RenderedEmail(subject, text, html)

    def _sms_once(self, program: Program, step_id: str, language: str, context: dict[str, Any]) -> RenderedSms:
        text = self._string(program, step_id, language, "sms", context)
        body = self._file("sms/message.txt.j2", {**context, "language": language, "text": text}).strip()
        count = count_segments(body)
        return RenderedSms(body, count.segments, count.encoding)

    def _string(self, program: Program, step_id: str, language: str, key: str, context: dict[str, Any]) -> str:
        try:
            source = _source(program, step_id, language, key)
            template = self._compiled.get(source)  # keyed by the text itself: an edited program never renders stale
            if template is None:
                template = self._compiled[source] = self._strings_env.from_string(source)
            return self._render(source, template, context)
        except KeyError:
            raise RenderError(f"{program.id}/{language}/{step_id}.{key}: missing translation") from None
        except TemplateError as exc:
            raise RenderError(f"{program.id}/{language}/{step_id}.{key}: {exc}") from None

    def _file(self, name: str, context: dict[str, Any]) -> str:
        try:
            return self._render(f"file:{name}", self._files_env.get_template(name), context)
        except TemplateError as exc:
            raise RenderError(f"templates/{name}: {exc}") from None

    def _render(self, key: str, template: Template, context: dict[str, Any]) -> str:
        """`template.render(context)`, with the template's globals (a ChainMap Jinja walks into a
        new dict on every render: half the cost of a short SMS template) flattened once per
        compiled template (`key`: its source, or its file's name): the same context, output, errors."""
        known = self._globals.get(key)
        if known is None or known[0] is not template:  # compiled anew (a file reloaded after an edit)
            known = self._globals[key] = (template, dict(template.globals))
        ctx = template.new_context({**known[1], **context}, shared=True)
        try:
            return template.environment.concat(template.root_render_func(ctx))
        except Exception:
            template.environment.handle_exception()


def _source(program: Program, step_id: str, language: str, key: str) -> str:
    """The template text of a step's `key` (the introduction's SMS is step `intro`); KeyError if none."""
    if step_id == INTRO_ID and key == Channel.SMS:
        text = program.intro_text(language)
        if text is None:
            raise KeyError(step_id)
        return text
    return program.strings[language][step_id][key]
