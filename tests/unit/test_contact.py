"""`worker.contact`: strict E.164 for patients and clinics, email, Twilio's numbers, display, masking."""

from __future__ import annotations

from collections.abc import Callable

import phonenumbers
import pytest

from worker.contact import (
    clinic_phone,
    display_phone,
    email_address,
    inbound_number,
    mask_email,
    mask_phone,
    patient_phone,
)

# (what, raw, words in the reason): refused for patients and clinics alike, never rewritten.
NOT_E164 = [
    ("letters (keypad)", "+1415555ABCD", "letters"),
    ("one letter", "+1415555267O", "letters"),
    ("extension ext.", "+14155552671 ext. 5", "extension"),
    ("extension ;ext=", "+14155552671;ext=5", "extension"),
    ("extension x", "+14155552671x5", "extension"),
    ("extension #", "+14155552671#5", "extension"),
    ("spaces", "+1 415 555 2671", "spaces"),
    ("dashes", "+1-415-555-2671", "dashes"),
    ("parentheses", "+1 (415) 555-2671", "parentheses"),
    ("dots", "+1.415.555.2671", "dots"),
    ("no plus", "14155552671", "E.164"),
    ("national format", "(415) 555-2671", "E.164"),
    ("00 prefix", "0014155552671", "E.164"),
    ("fullwidth digit", "+1415555267\uff11", "E.164"),
    ("Arabic-Indic digits", "+\u0661\u0664\u0661\u0665", "E.164"),
    ("too long", "+1415555267112345", "E.164"),
    ("plus alone", "+", "E.164"),
    ("empty", "", "E.164"),
    ("unknown country code", "+9991234567", "country code"),
    ("trunk 0 after the country code", "+4402071838750", "national prefix"),
]


@pytest.mark.parametrize("check", [patient_phone, clinic_phone], ids=["patient", "clinic"])
@pytest.mark.parametrize(("raw", "words"), [pytest.param(r, w, id=n) for n, r, w in NOT_E164])
def test_anything_but_strict_e164_is_refused_with_the_reason(
    check: Callable[[str], str], raw: str, words: str
) -> None:
    with pytest.raises(ValueError, match=words):
        check(raw)


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ("+442071838750", "landline"),  # UK fixed line
        ("+18005550100", "toll-free"),
        ("+15550102345", "not a valid"),  # the fictional 555-01xx range: no patient has it
        ("+1999", "not a valid"),
    ],
)
def test_patient_number_must_take_sms(raw: str, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        patient_phone(raw)


@pytest.mark.parametrize("raw", ["+14155552671", "+447911123456", "+15005550006", " +14155552671 "])
def test_patient_number_is_returned_as_sent(raw: str) -> None:
    """US numbers are fixed-line-or-mobile (no carrier lookup), Twilio's test numbers personal; only
    surrounding blanks go."""
    assert patient_phone(raw) == raw.strip()


@pytest.mark.parametrize("raw", ["+15550102345", "+16175550123", "+442071838750", "+18005550100"])
def test_clinic_number_only_has_to_be_possible(raw: str) -> None:
    """The README's +1 555-01xx example, a landline and a toll-free line are numbers patients call."""
    assert clinic_phone(raw) == raw


@pytest.mark.parametrize("raw", ["+1555010234", "+155501023456", "+4420"])
def test_clinic_number_of_an_impossible_length_is_refused(raw: str) -> None:
    with pytest.raises(ValueError, match="possible"):
        clinic_phone(raw)


def test_email_address() -> None:
    assert email_address(" ana@example.com ") == "ana@example.com"
    for bad, words in [("ana@example.com\r\nBcc: x@y.z", "line breaks"), ("a" * 250 + "@x.io", "254"), ("ana@", ".")]:
        with pytest.raises(ValueError, match=words):
            email_address(bad)


@pytest.mark.parametrize(
    ("raw", "number"),
    [("+14155552671", "+14155552671"), (" +1 415 555 2671", "+14155552671"), ("14155552671", "+14155552671"),
     ("whatsapp:+14155552671", "+14155552671"), ("", "")],
)
def test_inbound_number_is_the_e164_key(raw: str, number: str) -> None:
    assert inbound_number(raw) == number


@pytest.mark.parametrize(
    ("number", "shown"),
    [("+15550102345", "+1 555-010-2345"), ("+442071838750", "+44 20 7183 8750"), (" not a number ", "not a number"),
     ("", "")],
)
def test_display_phone_is_international_format(number: str, shown: str) -> None:
    assert display_phone(number) == shown


def test_masks_keep_nothing_identifying() -> None:
    assert mask_phone("+15551234567") == "***4567"
    assert mask_phone("+123") == "***"
    assert mask_email("ana.garcia@example.com") == "a***@example.com"
    assert mask_email("@example.com") == mask_email("nobody") == "***"


@pytest.mark.parametrize(
    "raw",
    ["+14155552671", "+16135550123", "+12684601234", "+77012345678", "+80012345678", "+882393876543", "+4915123456789",
     "+15550102345", "+1999", "+4470", "+861381234567", "+97150123456"],
)  # fmt: skip
def test_patient_number_is_valid_exactly_when_libphonenumber_says_so(raw: str) -> None:
    """One type lookup stands for is_valid_number + number_type (shared country codes, non-geographic)."""
    number = phonenumbers.parse(raw, None)
    try:
        patient_phone(raw)
        refused = ""
    except ValueError as exc:
        refused = str(exc)
    assert (refused != "is not a valid phone number") == phonenumbers.is_valid_number(number)
