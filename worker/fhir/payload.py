"""The words of a message, for Communication.payload: rendered again as the send path renders them.

caredrip keeps no copy of what it sent (message records hold states and ids, never text), so the
text is rendered again by `worker.delivery.compose.render_message` from the program's strings and
the enrollment as it is now: the same words, unless the program's content or the patient's first
name or language changed since. SMS: the text sent; email: its plain-text part.
"""

from __future__ import annotations

from collections.abc import Callable

from worker.delivery.compose import render_message
from worker.delivery.types import DeliveryDeps, Pending
from worker.deps import EngineDeps
from worker.errors import ContentError
from worker.policy import Caps
from worker.records import Enrollment, MessageRecord
from worker.render import Renderer


def composer(
    engine: EngineDeps, renderer: Renderer, base_url: str, clinics: Callable[[str], dict[str, str]]
) -> DeliveryDeps:
    """Delivery deps that can render (and nothing else: no channels, caps or rates)."""
    return DeliveryDeps(
        engine=engine,
        renderer=renderer,
        channels={},
        caps=Caps(per_day={}, per_week={}),
        public_base_url=base_url,
        rate_per_second={},
        clinics=clinics,
    )


def message_text(deps: DeliveryDeps, enrollment: Enrollment, record: MessageRecord) -> str | None:
    """The text of `record`'s message; None when it no longer renders (a step or string removed)."""
    try:
        program = deps.engine.catalog.get(enrollment.program, enrollment.version)
        pending = Pending(enrollment, program, program.step(record.step), enrollment.cursor.get(record.channel, 0))
        return render_message(deps, record.channel, pending, record.occurrence).body
    except ContentError:
        return None
