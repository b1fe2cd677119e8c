"""Patients' SMS replies: STOP/START/HELP act, anything else is kept for the clinic.

Plain functions over the engine deps, a clinic store and an instant; the webhook handler in
`worker.api.webhooks` checks Twilio's signature and calls `handle_inbound`.

- STOP and its synonyms opt the number out of SMS from every clinic at once (`worker.optouts`):
  the send path checks the opt-out right after taking a message's "sending" state, so even a
  message already claimed or queued is not sent. START and its synonyms opt back in. HELP answers
  with the name and phone of the clinic the number's replies go to (`worker.routing.route`: the
  clinic whose message it received most recently). Any other reply is kept for that clinic
  (`worker.inbox`), or in the operators' inbox when no clinic can be told of it, and not answered.
- A replayed message (same `MessageSid`) does nothing (`worker.replays`): replaying a signed START
  after a STOP does not opt the number back in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from xml.sax.saxutils import escape

from worker.clinic_events import number_opted_out
from worker.contact import display_phone, inbound_number, mask_phone
from worker.deps import EngineDeps
from worker.inbox import record_reply, record_unmatched
from worker.logs import get_logger
from worker.optouts import OptOutSource, opt_in_sms, opt_out_sms
from worker.replays import act_once
from worker.routing import route
from worker.store import ClinicStore

log = get_logger("caredrip.replies")

OPT_OUT_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"})
OPT_IN_WORDS = frozenset({"START", "UNSTOP", "YES"})
HELP_WORDS = frozenset({"HELP", "INFO"})
GENERIC_HELP = "caredrip health messages. Reply STOP to opt out."


class Keyword(StrEnum):
    STOP = "stop"
    START = "start"
    HELP = "help"


def keyword(body: str) -> Keyword | None:
    """The keyword an inbound SMS is, if it is one: the whole message, any case, spaces around."""
    word = body.strip().upper()
    if word in OPT_OUT_WORDS:
        return Keyword.STOP
    if word in OPT_IN_WORDS:
        return Keyword.START
    if word in HELP_WORDS:
        return Keyword.HELP
    return None


@dataclass(frozen=True, slots=True)
class InboundOutcome:
    """What an inbound SMS did (`opted_out`, `opted_in`, `help`, `stored`, `unmatched`, `replayed`) and the
    reply, if any."""

    action: str
    reply: str | None = None


REPLAYED = InboundOutcome("replayed")


def handle_inbound(
    deps: EngineDeps, clinics: ClinicStore, number: str, body: str, now: datetime, *, message_sid: str = ""
) -> InboundOutcome:
    """Act on one inbound SMS from `number` (E.164, as Twilio sends it), once per `message_sid`."""
    number = inbound_number(number)
    outcome = act_once(deps.store, "inbound", message_sid, lambda: _act(deps, clinics, number, body, now))
    outcome = outcome or REPLAYED
    log.info("inbound_sms", sender=mask_phone(number), action=outcome.action)
    return outcome


def _act(deps: EngineDeps, clinics: ClinicStore, number: str, body: str, now: datetime) -> InboundOutcome:
    word = keyword(body)
    if word is Keyword.STOP:
        opt_out_sms(deps.store, number, now, OptOutSource.STOP)
        number_opted_out(deps, number)  # each enrollment's clinic hears of it (never raises)
        return InboundOutcome("opted_out")
    if word is Keyword.START:
        opt_in_sms(deps.store, number)
        return InboundOutcome("opted_in")
    to = route(deps, number)
    if word is Keyword.HELP:
        return InboundOutcome("help", help_message(clinics.get(to.clinic_id) if to else None))
    if to is None:
        record_unmatched(deps, number, body, now)
        return InboundOutcome("unmatched")
    record_reply(deps, to.clinic_id, to.enrollment_id, body, now, number=number)
    return InboundOutcome("stored")


def help_message(clinic: dict[str, str] | None) -> str:
    """The HELP answer: who sends these messages and how to reach them."""
    if not clinic or not clinic.get("name"):
        return GENERIC_HELP
    phone = display_phone(clinic.get("phone", ""))
    reach = f" Questions? Call {phone}." if phone else ""
    return f"{clinic['name']}: patient education messages.{reach} Reply STOP to opt out."


def twiml(message: str | None) -> str:
    """A TwiML answer: one reply message, or none."""
    if message is None:
        return '<?xml version="1.0" encoding="UTF-8"?><Response/>'
    return f'<?xml version="1.0" encoding="UTF-8"?><Response><Message>{escape(message)}</Message></Response>'
