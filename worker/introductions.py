"""Introductions: the first SMS to a number names the clinic and says STOP and HELP.

A new enrollment's first SMS is the program's own first step, which says both (`caredrip lint`
checks it). When a PATCH adds SMS or changes the phone number, and the number's next SMS would be
a later lesson, the enrollment asks for an introduction first: a message of its own,
`<enrollment>.intro.sms.<n>` (n counts the numbers introduced), worded per language as `intro` in
the program's strings. It is sent like any other message (once, in quiet hours' and caps' limits,
with a record); then the program goes on with its next lesson. While one waits
(`Enrollment.intro_asked`), nothing else goes to the number (begin_send.lua refuses it).
"""

from __future__ import annotations

from collections.abc import Sequence

from worker.programs import INTRO_ID, Program
from worker.records import Channel, Enrollment, MessageRecord, MessageState

NOT_YET_SENT = (MessageState.QUEUED, MessageState.RETRYING)


def reaches_new_number(current: Enrollment, updated: Enrollment) -> bool:
    """Whether a change makes SMS go to a number this enrollment has not texted: SMS added, or a
    new phone number for SMS."""
    if "sms" not in updated.channels or not updated.phone:
        return False
    return "sms" not in current.channels or updated.phone != current.phone


def intro_needed(program: Program, sms_cursor: int, records: Sequence[MessageRecord]) -> bool:
    """Whether a number reached anew, whose next lesson is the one at `sms_cursor`, needs an
    introduction: not when that lesson is the program's first SMS (it introduces itself) unless
    that one already went, or is going, to another number; not when no SMS lesson is left."""
    steps = program.steps_for("sms")
    if sms_cursor >= len(steps):
        return False
    if sms_cursor > 0:
        return True
    first = next((r for r in records if r.step == steps[0].id and r.channel == Channel.SMS and r.occurrence == 1), None)
    return first is not None and first.state not in NOT_YET_SENT


def next_intro_number(enrollment: Enrollment, records: Sequence[MessageRecord]) -> int:
    """n of the next introduction: past every one asked for and every one an operator resent."""
    resent = [r.occurrence for r in records if r.step == INTRO_ID and r.channel == Channel.SMS]
    return max([enrollment.intros, *resent]) + 1
