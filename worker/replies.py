"""What Twilio tells us: status callbacks (message states) and patients' replies (STOP/START/HELP).

Plain functions over a store, a clinic store and an instant; the webhook handlers in
`worker.api` check the signature and call these.

- Status callbacks move a message's record forward only (a late "sent" never overwrites
  "delivered"), so they may come in any order and any number of times.
- STOP and its synonyms opt the number out of SMS from every clinic at once: the send path checks
  the opt-out list right after taking a message's "sending" state, so even a message already
  claimed or queued is not sent. START and its synonyms opt back in. HELP answers with the
  clinic's name and phone. Any other reply is kept for the clinic and not answered.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from xml.sax.saxutils import escape

from worker.contact import display_phone, inbound_number, mask_phone
from worker.logs import get_logger
from worker.records import MessageState, parse_message_id
from worker.store import ClinicStore, Store
from worker.store.keys import FAILED_INDEX, UNKNOWN_INDEX

log = get_logger("caredrip.replies")

OPT_OUT_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"})
OPT_IN_WORDS = frozenset({"START", "UNSTOP", "YES"})
HELP_WORDS = frozenset({"HELP", "INFO"})
GENERIC_HELP = "caredrip health messages. Reply STOP to opt out."
UNMATCHED_INBOX = "unmatched"  # replies from a number no clinic enrolled (clinic ids start with c_)
MAX_REPLY_CHARS = 1600  # Twilio's longest inbound message
CARRIER_OPT_OUT_CODE = "21610"  # "Attempt to send to unsubscribed recipient"

# Twilio MessageStatus -> our state. Anything else (scheduled, canceled, receiving...) is ignored.
STATUS_STATES = {
    "queued": MessageState.SENT,
    "accepted": MessageState.SENT,
    "sending": MessageState.SENT,
    "sent": MessageState.SENT,
    "delivered": MessageState.DELIVERED,
    "read": MessageState.DELIVERED,
    "undelivered": MessageState.UNDELIVERED,
    "failed": MessageState.FAILED,
}
FINAL_STATES = (MessageState.DELIVERED, MessageState.UNDELIVERED, MessageState.FAILED)


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
    """What an inbound SMS did (`opted_out`, `opted_in`, `help`, `stored`) and the reply, if any."""

    action: str
    reply: str | None = None


def handle_inbound(store: Store, clinics: ClinicStore, number: str, body: str, now: datetime) -> InboundOutcome:
    """Act on one inbound SMS from `number` (E.164, as Twilio sends it)."""
    number = inbound_number(number)
    word = keyword(body)
    if word is Keyword.STOP:
        store.opt_out_sms(number, now)
        outcome = InboundOutcome("opted_out")
    elif word is Keyword.START:
        store.opt_in_sms(number)
        outcome = InboundOutcome("opted_in")
    elif word is Keyword.HELP:
        cid = store.clinic_for_phone(number)
        outcome = InboundOutcome("help", help_message(clinics.get(cid) if cid else None))
    else:
        cid = store.clinic_for_phone(number) or UNMATCHED_INBOX
        entry = {"from": number, "body": body[:MAX_REPLY_CHARS], "at": now.isoformat()}
        store.push_inbox(cid, json.dumps(entry, ensure_ascii=False))
        outcome = InboundOutcome("stored")
    log.info("inbound_sms", sender=mask_phone(number), action=outcome.action)
    return outcome


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


@dataclass(frozen=True, slots=True)
class StatusOutcome:
    """`updated`, `stale` (an older or repeated report), `missing` (no such record) or `ignored`."""

    result: str
    state: MessageState | None = None


def handle_status(store: Store, mid: str, status: str, error_code: str, to: str, now: datetime) -> StatusOutcome:
    """Apply one status callback for message `mid`; raises ValueError if `mid` is not a message id."""
    eid, _step, channel, _occ = parse_message_id(mid)
    state = STATUS_STATES.get(status.strip().lower())
    if state is None:
        return StatusOutcome("ignored")
    failed = state in (MessageState.UNDELIVERED, MessageState.FAILED)
    reason = error_code.strip()[:32] if failed else ""
    result = store.apply_callback(mid, state, reason, now)
    if failed and reason == CARRIER_OPT_OUT_CODE and to:
        store.opt_out_sms(inbound_number(to), now)
    if result == "updated":
        _bookkeeping(store, eid, channel, mid, state, now)
    log.info("status_callback", message_id=mid, state=state.value, result=result, reason=reason or None)
    return StatusOutcome(result, state)


def _bookkeeping(store: Store, eid: str, channel: str, mid: str, state: MessageState, now: datetime) -> None:
    """The provider has the message: it is no longer `unknown`; failures join the failed index;
    final states count in the totals behind /metrics (a 'sent' was counted at send time)."""
    store.drop_from_index(UNKNOWN_INDEX, mid)
    ops = []
    if state in (MessageState.UNDELIVERED, MessageState.FAILED):
        ops.append(store.index_op(FAILED_INDEX, mid, now))
    if state in FINAL_STATES:
        enrollment = store.get_enrollment(eid)
        if enrollment is not None:
            ops.append(store.count_op(state.value, channel, enrollment.program))
    store.run(ops)
