"""Mapping out: a program of the catalog as a PlanDefinition, one action per step.

A step sent some minutes after the start is `timingDuration` (UCUM `min`); a step on day N at a
local time is `timingTiming` (`repeat.timeOfDay`, `count` 1), its day after the start's local date
in caredrip's `caredrip-day` extension on the Timing and in words in `Timing.code.text`. Each
action's `code` lists its channels (HL7 ParticipationMode and caredrip's channel code).
"""

from __future__ import annotations

from typing import Any

from worker.fhir.terms import MEDIUM, PARTICIPATION_MODE, UCUM, channel_system, plan_url
from worker.programs import Program, Step


def day_extension(base: str) -> str:
    return f"{base}/fhir/r4/StructureDefinition/caredrip-day"


def plan_definition(program: Program, base: str) -> dict[str, Any]:
    """The PlanDefinition JSON of `program`."""
    return {
        "resourceType": "PlanDefinition",
        "id": program.id,
        "url": plan_url(base, program.id),
        "name": "".join(part.capitalize() for part in program.id.split("-")),
        "title": program.name,
        "status": "active",
        "description": f"Languages: {', '.join(program.languages)}. Times are the patient's local time.",
        "action": [_action(step, base) for step in program.steps],
    }


LOCAL = "the patient's local time"


def _action(step: Step, base: str) -> dict[str, Any]:
    action: dict[str, Any] = {
        "id": step.id,
        "title": step.id,
        "code": [_channel(ch, base) for ch in step.channels],
    }
    if step.after_minutes is not None:
        minutes = step.after_minutes
        action["timingDuration"] = {"value": minutes, "unit": "minutes", "system": UCUM, "code": "min"}
        return action
    assert step.day is not None
    start = "the start" if step.anchor is None else f"the {step.anchor} date"
    if step.at is None:  # at the anchor's own time of day
        text = f"day {step.day} from {start}, at its time of day"
        action["timingTiming"] = {
            "extension": [{"url": day_extension(base), "valueInteger": step.day}],
            "code": {"text": text},
        }
        return action
    at = step.at.strftime("%H:%M")
    action["timingTiming"] = {
        "extension": [{"url": day_extension(base), "valueInteger": step.day}],
        "repeat": {"count": 1, "timeOfDay": [f"{at}:00"]},
        "code": {"text": f"day {step.day} {'after' if step.anchor is None else 'from'} {start}, at {at} {LOCAL}"},
    }
    return action


def _channel(channel: str, base: str) -> dict[str, Any]:
    mode, display, label = MEDIUM[channel]
    return {
        "coding": [
            {"system": PARTICIPATION_MODE, "code": mode, "display": display},
            {"system": channel_system(base), "code": channel},
        ],
        "text": label,
    }
