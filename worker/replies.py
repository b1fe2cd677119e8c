"""Patients' SMS replies: keywords act, red flags are answered at once, anything else is kept.

Plain functions over the engine deps, a clinic store and an instant; the webhook handler in
`worker.api.webhooks` checks Twilio's signature and calls `handle_inbound`, and answers with the
TwiML of the outcome's reply.

- Keywords (worker.keywords), answered in the language of the enrollment the number's replies go
  to (`worker.routing.route`; English for a number nobody can be told of), in the program's words
  (worker.reply_texts), naming that clinic:
  STOP and synonyms opt the number out of SMS from every clinic at once (worker.optouts: the send
  path checks it right after taking a message's "sending" state); START and synonyms opt back in;
  HELP answers who writes and how to reach them; PAUSE pauses the number's enrollments for 7 days
  (worker.pauses) and says until when.
- Anything else is a reply: kept for the clinic (worker.inbox), or in the operators' inbox when no
  clinic can be told of it. Text is checked for the program's warning signs (worker.safety): a
  red flag is answered at once with the safety text (call 911, and the clinic's phone), its
  enrollment is paused and an alert opens. Every reply kept for a clinic is an event
  (`reply.received`); its text stays in the inbox. A picture with no text (NumMedia > 0) is
  kept as an empty reply noting the attachments, which are never fetched.
- A replayed message (same `MessageSid`) does nothing (`worker.replays`): replaying a signed START
  after a STOP does not opt the number back in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from worker import events
from worker.clinic_events import number_opted_out
from worker.contact import display_phone, inbound_number, mask_phone
from worker.deps import EngineDeps
from worker.errors import ContentError
from worker.inbox import clean_body, record_reply, record_unmatched
from worker.keywords import Keyword, keyword
from worker.logs import get_logger
from worker.optouts import OptOutSource, opt_in_sms, opt_out_sms
from worker.pauses import pause_number
from worker.records import Enrollment
from worker.replays import act_once
from worker.reply_texts import ReplyKind, reply_texts_for
from worker.routing import Route, route
from worker.safety import act_on_red_flag, act_on_unmatched_red_flag, check_reply, default_program, event_data
from worker.store import ClinicStore
from worker.webhooks.events import EventType

__all__ = ["InboundOutcome", "Keyword", "handle_inbound", "keyword", "twiml"]

log = get_logger("caredrip.replies")
DEFAULT_LANGUAGE = "en"
# Said when a program's reply texts cannot be read (lint reports that): safety first, in both languages.
SAFETY_FALLBACK = "If this is an emergency, call 911 now. Si es una emergencia, llama al 911."


@dataclass(frozen=True, slots=True)
class InboundOutcome:
    """What an inbound SMS did (`opted_out`, `opted_in`, `help`, `paused`, `stored`, `red_flag`,
    `unmatched`, `replayed`) and the reply, if any."""

    action: str
    reply: str | None = None


REPLAYED = InboundOutcome("replayed")


@dataclass(frozen=True, slots=True)
class Voice:
    """Who answers a number, and how: the program and language of the enrollment its replies go
    to, that enrollment's clinic (name and phone as people read it) and time zone."""

    content_dir: Path
    program: str | None
    language: str = DEFAULT_LANGUAGE
    clinic_name: str = ""
    clinic_phone: str = ""
    timezone: str = "UTC"

    def say(self, kind: ReplyKind, *, until: datetime | None = None, language: str | None = None) -> str | None:
        """The program's `kind` text in this voice (in `language` if given); when no texts can be
        read (logged; lint reports it), the safety text's fallback, or nothing."""
        fallback = SAFETY_FALLBACK if kind is ReplyKind.SAFETY else None
        if self.program is None:
            return fallback
        local = until.astimezone(ZoneInfo(self.timezone)).date() if until is not None else None
        try:
            texts = reply_texts_for(self.content_dir, self.program)
        except ContentError as exc:
            log.error("reply_texts_unreadable", program=self.program, error=str(exc))
            return fallback
        return texts.text(kind, language or self.language, clinic_name=self.clinic_name,
                          clinic_phone=self.clinic_phone, until=local)  # fmt: skip


def voice_for(deps: EngineDeps, clinics: ClinicStore, to: Route | None, about: Enrollment | None) -> Voice:
    """The voice of the enrollment a number's replies go to (`about`, at clinic `to`); the default
    program's, in English, for a number nobody can be told of (or an enrollment gone since)."""
    content_dir = deps.catalog.content_dir
    clinic = clinics.get(to.clinic_id) if to is not None else {}
    phone = clinic.get("phone", "")
    named = {"clinic_name": clinic.get("name", ""), "clinic_phone": display_phone(phone) if phone else ""}
    if about is None:
        return Voice(content_dir, default_program(deps), **named)
    return Voice(content_dir, about.program, about.language, timezone=about.timezone, **named)


def handle_inbound(
    deps: EngineDeps,
    clinics: ClinicStore,
    number: str,
    body: str,
    now: datetime,
    *,
    message_sid: str = "",
    media: int = 0,
) -> InboundOutcome:
    """Act on one inbound SMS from `number` (E.164, as Twilio sends it), once per `message_sid`;
    `media`: how many attachments it carried (NumMedia)."""
    number = inbound_number(number)
    act = lambda: _act(deps, clinics, number, body, now, media)  # noqa: E731
    outcome = act_once(deps.store, "inbound", message_sid, act) or REPLAYED
    log.info("inbound_sms", sender=mask_phone(number), action=outcome.action)
    return outcome


def _act(deps: EngineDeps, clinics: ClinicStore, number: str, body: str, now: datetime, media: int) -> InboundOutcome:
    word = keyword(body)
    to = route(deps, number)
    about = deps.store.get_enrollment(to.enrollment_id) if to else None
    voice = voice_for(deps, clinics, to, about)
    if word is Keyword.STOP:
        opt_out_sms(deps.store, number, now, OptOutSource.STOP)
        number_opted_out(deps, number)  # each enrollment's clinic hears of it (never raises)
        return InboundOutcome("opted_out", voice.say(ReplyKind.STOP))
    if word is Keyword.START:
        opt_in_sms(deps.store, number)
        return InboundOutcome("opted_in", voice.say(ReplyKind.START))
    if word is Keyword.HELP:
        return InboundOutcome("help", voice.say(ReplyKind.HELP))
    if word is Keyword.PAUSE:
        paused = pause_number(deps, number, now)
        return InboundOutcome("paused", voice.say(ReplyKind.PAUSE, until=paused.until))
    if to is None:
        return _unmatched(deps, voice, number, body, now, media)
    return _reply(deps, voice, to, about, number, body, now, media)


def _reply(
    deps: EngineDeps,
    voice: Voice,
    to: Route,
    about: Enrollment | None,
    number: str,
    body: str,
    now: datetime,
    media: int,
) -> InboundOutcome:
    """A reply for clinic `to` about `about` (None: it expired since it was noted): kept first
    (never lost), then a red flag acted on, then the clinic told."""
    match = check_reply(deps, voice.program, clean_body(body), voice.language)
    reply = record_reply(deps, to.clinic_id, to.enrollment_id, body, now, red_flag=match is not None, number=number,
                         media=media)  # fmt: skip
    if match is not None and about is not None:
        act_on_red_flag(deps, reply.id, about, now, match)
    elif match is not None:
        act_on_unmatched_red_flag(deps, reply.id, now, match, clinic_id=to.clinic_id, enrollment_id=to.enrollment_id)
    ref = about.patient_ref if about is not None else None
    data = event_data(reply.id, to.enrollment_id, now, patient_ref=ref, red_flag=match is not None)
    events.emit(deps, to.clinic_id, EventType.REPLY_RECEIVED, key=reply.id, at=now, data=data)
    if match is None:
        return InboundOutcome("stored")
    language = match.hits[0].language if about is None else None  # an enrollment gone: the words' language
    return InboundOutcome("red_flag", voice.say(ReplyKind.SAFETY, language=language))


def _unmatched(deps: EngineDeps, voice: Voice, number: str, body: str, now: datetime, media: int) -> InboundOutcome:
    """A reply no clinic can be told of: checked against every language of the default program,
    kept in the operators' inbox; a red flag gets the safety text in the language that matched."""
    match = check_reply(deps, voice.program, clean_body(body), voice.language)
    kept = record_unmatched(deps, number, body, now, red_flag=match is not None, media=media)
    if match is None:
        return InboundOutcome("unmatched")
    act_on_unmatched_red_flag(deps, kept.id, now, match)
    return InboundOutcome("red_flag", voice.say(ReplyKind.SAFETY, language=match.hits[0].language))


def twiml(message: str | None) -> str:
    """A TwiML answer: one reply message, or none."""
    if message is None:
        return '<?xml version="1.0" encoding="UTF-8"?><Response/>'
    return f'<?xml version="1.0" encoding="UTF-8"?><Response><Message>{escape(message)}</Message></Response>'
