"""Opt-outs: the one module that records who must not be messaged, when, and on whose word.

Four paths lead here, each with its source:
- an inbound STOP (or a synonym) from a number: `stop`; START opts the number back in;
- the provider refusing a send with Twilio's error 21610 (the carrier has the number opted out):
  `provider`, from the send path's bookkeeping;
- a status callback reporting 21610 for a message already handed over: `provider`;
- an email unsubscribe link: `unsubscribe`.

An SMS opt-out belongs to the number: every clinic's SMS to it stop at once. An email opt-out
belongs to one enrollment. The first opt-out's time and source are kept (a second STOP does not
overwrite them) until the number opts back in. The send path reads the same records, through the
store, right after taking a message's "sending" state; `GET /v1/enrollments/{id}` shows them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from worker.records import CHANNELS, Channel, Enrollment, OptOut, OptOutSource
from worker.store import Batch, Store

__all__ = [
    "PROVIDER_OPT_OUT_CODE",
    "OptOut",
    "OptOutSource",
    "enrollment_opt_outs",
    "is_provider_opt_out",
    "opt_in_sms",
    "opt_out_sms",
    "opt_outs_by_channel",
    "provider_opt_out",
    "sms_opt_out",
    "sms_opted_out",
    "unsubscribe_email",
]

PROVIDER_OPT_OUT_CODE = 21610  # Twilio: "Attempt to send to unsubscribed recipient"


def is_provider_opt_out(code: int | str | None) -> bool:
    """True for the provider's "this recipient opted out" error, as an int (API error) or text (callback)."""
    return code is not None and str(code).strip() == str(PROVIDER_OPT_OUT_CODE)


def opt_out_sms(store: Store, number: str, now: datetime, source: OptOutSource) -> None:
    """Opt `number` out of SMS from every clinic, effective for every message not yet handed over."""
    store.opt_out_sms(number, now, source)


def provider_opt_out(batch: Batch, number: str, now: datetime) -> None:
    """The provider refused a send with 21610: the opt-out, in the send path's round trip."""
    batch.opt_out_sms(number, now, OptOutSource.PROVIDER)


def opt_in_sms(store: Store, number: str) -> None:
    """START: the number takes SMS again (each enrollment goes on from where it stood)."""
    store.opt_in_sms(number)


def unsubscribe_email(store: Store, eid: str, now: datetime) -> None:
    """The enrollment's email unsubscribe link was used: no more email to it."""
    store.opt_out_channel(eid, "email", now, OptOutSource.UNSUBSCRIBE)


def sms_opt_out(store: Store, number: str | None) -> OptOut | None:
    """The number's SMS opt-out, or None if it takes SMS (or there is no number)."""
    return store.sms_opt_outs([number])[0] if number else None


def sms_opted_out(store: Store, number: str | None) -> bool:
    """Whether SMS to `number` must not go out (the send path's and a resend's question)."""
    return sms_opt_out(store, number) is not None


def enrollment_opt_outs(store: Store, enrollment: Enrollment) -> dict[str, OptOut | None]:
    """Each channel's opt-out for this enrollment (None: not opted out): SMS by its number or the
    enrollment's own record, email by the enrollment's own record."""
    own, sms = store.opt_outs_of(enrollment.id, CHANNELS, enrollment.phone)  # one round trip
    return opt_outs_by_channel(own, sms)


def opt_outs_by_channel(own: Mapping[str, OptOut], sms: OptOut | None) -> dict[str, OptOut | None]:
    """Each channel's opt-out from what `Store.opt_outs_of` answers: the enrollment's own ones by
    channel and its number's SMS opt-out (which wins on SMS)."""
    by_number = {Channel.SMS: sms}
    return {ch: by_number.get(ch) or own.get(ch) for ch in CHANNELS}
