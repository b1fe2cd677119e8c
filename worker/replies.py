"""Patients' SMS replies: STOP/START/HELP act, anything else is kept for the clinic.

Plain functions over a store, a clinic store and an instant; the webhook handler in
`worker.api.webhooks` checks Twilio's signature and calls `handle_inbound`.

- STOP and its synonyms opt the number out of SMS from every clinic at once (`worker.optouts`):
  the send path checks the opt-out right after taking a message's "sending" state, so even a
  message already claimed or queued is not sent. START and its synonyms opt back in. HELP answers
  with the clinic's name and phone. Any other reply is kept for the clinic and not answered.
- A replayed message (same `MessageSid`) does nothing (`worker.replays`): replaying a signed START
  after a STOP does not opt the number back in.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from xml.sax.saxutils import escape

from worker.contact import display_phone, inbound_number, mask_phone
from worker.logs import get_logger
from worker.optouts import OptOutSource, opt_in_sms, opt_out_sms
from worker.replays import act_once
from worker.store import ClinicStore, Store

log = get_logger("caredrip.replies")

OPT_OUT_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"})
OPT_IN_WORDS = frozenset({"START", "UNSTOP", "YES"})
HELP_WORDS = frozenset({"HELP", "INFO"})
GENERIC_HELP = "caredrip health messages. Reply STOP to opt out."
UNMATCHED_INBOX = "unmatched"  # replies from a number no clinic enrolled (clinic ids start with c_)
MAX_REPLY_CHARS = 1600  # Twilio's longest inbound message


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
    """What an inbound SMS did (`opted_out`, `opted_in`, `help`, `stored`, `replayed`) and the reply, if any."""

    action: str
    reply: str | None = None


REPLAYED = InboundOutcome("replayed")


def handle_inbound(
    store: Store, clinics: ClinicStore, number: str, body: str, now: datetime, *, message_sid: str = ""
) -> InboundOutcome:
    """Act on one inbound SMS from `number` (E.164, as Twilio sends it), once per `message_sid`."""
    number = inbound_number(number)
    outcome = act_once(store, "inbound", message_sid, lambda: _act(store, clinics, number, body, now)) or REPLAYED
    log.info("inbound_sms", sender=mask_phone(number), action=outcome.action)
    return outcome


def _act(store: Store, clinics: ClinicStore, number: str, body: str, now: datetime) -> InboundOutcome:
    word = keyword(body)
    if word is Keyword.STOP:
        opt_out_sms(store, number, now, OptOutSource.STOP)
        return InboundOutcome("opted_out")
    if word is Keyword.START:
        opt_in_sms(store, number)
        return InboundOutcome("opted_in")
    if word is Keyword.HELP:
        cid = store.clinic_for_phone(number)
        return InboundOutcome("help", help_message(clinics.get(cid) if cid else None))
    cid = store.clinic_for_phone(number) or UNMATCHED_INBOX
    entry = {"from": number, "body": body[:MAX_REPLY_CHARS], "at": now.isoformat()}
    store.push_inbox(cid, json.dumps(entry, ensure_ascii=False))
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
