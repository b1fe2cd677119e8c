"""Contact details: the one home of the rules for phone numbers and email addresses.

- Validation, each raising ValueError with the reason (callers name the field):
  `patient_phone` (a number caredrip will text: valid and mobile-capable), `clinic_phone` (a
  number patients call: any possible number, so the fictional +1 555-01xx range used in docs
  passes) and `email_address`. Numbers are strict E.164 (`+`, country code, ASCII digits, no
  spaces, dashes, parentheses, letters or extension) and are stored as given, never rewritten:
  `+1415555ABCD` is refused, not read off a keypad.
- `inbound_number`: the lookup key for a number Twilio sends (E.164 already; hand-made requests
  may add spaces or drop the `+`).
- `display_phone`: a stored number as people read it (international format).
- `mask_phone` / `mask_email`: what a log line or error text may show of a recipient.
"""

from __future__ import annotations

import re

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from worker.records import Channel

EXAMPLE = "+15551234567"
_E164 = re.compile(r"\+[1-9][0-9]{1,14}")  # [0-9], not \d: no other script's digits
_EXTENSION = re.compile(r"(?i)ext|[#;,]|[0-9]\s*x\s*[0-9]")
_SEPARATORS = frozenset(" \t-.()/")
_NO_SMS = {
    phonenumbers.PhoneNumberType.FIXED_LINE: "a landline number cannot receive SMS",
    phonenumbers.PhoneNumberType.PREMIUM_RATE: "a premium-rate number cannot be texted",
    phonenumbers.PhoneNumberType.TOLL_FREE: "a toll-free number cannot be texted",
    phonenumbers.PhoneNumberType.PAGER: "a pager number cannot be texted",
    phonenumbers.PhoneNumberType.VOICEMAIL: "a voicemail number cannot be texted",
    phonenumbers.PhoneNumberType.UAN: "a universal access number cannot be texted",
}


def patient_phone(value: str) -> str:
    """A number caredrip may text: strict E.164, valid, of a type that takes SMS; raises ValueError.

    US and Canadian numbers parse as fixed-line-or-mobile (no carrier lookup), so they pass.
    """
    raw, number = _strict_e164(value)
    kind = phonenumbers.number_type(number)  # UNKNOWN exactly when not is_valid_number: one lookup, not two
    if kind is phonenumbers.PhoneNumberType.UNKNOWN:
        raise ValueError("is not a valid phone number")
    reason = _NO_SMS.get(kind)
    if reason:
        raise ValueError(reason)
    return raw


def clinic_phone(value: str) -> str:
    """A number patients call: strict E.164 of a possible length for its country (a landline or
    a fictional +1 555-01xx number is fine); raises ValueError."""
    raw, number = _strict_e164(value)
    if not phonenumbers.is_possible_number(number):
        raise ValueError(f"is not a possible phone number for its country code, e.g. {EXAMPLE}")
    return raw


def email_address(value: str) -> str:
    """A syntactically valid address, normalised by email-validator (no DNS lookup); raises ValueError."""
    if any(ch in value for ch in "\r\n"):
        raise ValueError("must not contain line breaks")
    if len(value) > 254:
        raise ValueError("must be at most 254 characters")
    try:
        return validate_email(value.strip(), check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValueError(str(exc)) from None


def inbound_number(number: str) -> str:
    """The E.164 key of a number Twilio sends (`From`, `To`); tolerates spaces, a `whatsapp:`
    prefix and a missing '+' from hand-made requests. Not a validator: it never refuses."""
    raw = "".join(ch for ch in number if ch in "+0123456789")
    return raw if raw.startswith("+") or not raw else "+" + raw


def display_phone(number: str) -> str:
    """+15550102345 -> +1 555-010-2345 (international format); anything unparsable unchanged."""
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return number.strip()
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def mask_phone(number: str) -> str:
    """`+15551234567` -> `***4567`; fewer than 5 digits leaves nothing recognisable: `***`."""
    digits = [c for c in number if c.isdigit()]
    if len(digits) < 5:
        return "***"
    return "***" + "".join(digits[-4:])


def mask_email(address: str) -> str:
    """`alice@example.com` -> `a***@example.com`; anything without one `@` becomes `***`."""
    local, at, domain = address.strip().rpartition("@")
    if not at or not local or not domain:
        return "***"
    return f"{local[0]}***@{domain}"


def mask_contact(channel: Channel, phone: str | None, email: str | None) -> str:
    """The channel's address, masked for operators and logs; "" when the patient has none."""
    address = channel.address(phone, email)
    if not address:
        return ""
    return mask_phone(address) if channel is Channel.SMS else mask_email(address)


def _strict_e164(value: str) -> tuple[str, phonenumbers.PhoneNumber]:
    """(the number as given, parsed) when `value` is exactly E.164; raises ValueError saying why not."""
    raw = value.strip()
    if not _E164.fullmatch(raw):
        raise ValueError(_format_problem(raw))
    try:
        number = phonenumbers.parse(raw, None)
    except phonenumbers.NumberParseException:
        raise ValueError(f"has no known country code, e.g. {EXAMPLE}") from None
    if phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) != raw:
        # e.g. +44 0 20…: a national trunk prefix after the country code
        raise ValueError(f"is not in E.164 form (no national prefix after the country code), e.g. {EXAMPLE}")
    return raw, number


def _format_problem(raw: str) -> str:
    if not raw.startswith("+"):
        return f"must be in E.164 form with country code, e.g. {EXAMPLE}"
    if _EXTENSION.search(raw):
        return f"must not carry an extension: E.164 only, e.g. {EXAMPLE}"
    if any(ch.isalpha() for ch in raw):
        return f"must contain digits only after the '+', no letters (E.164), e.g. {EXAMPLE}"
    if any(ch in _SEPARATORS for ch in raw):
        return f"must be written without spaces, dashes, dots or parentheses (E.164), e.g. {EXAMPLE}"
    return f"must be '+' and 2 to 15 digits (E.164), e.g. {EXAMPLE}"
