"""`worker.replies`, `worker.callbacks`, `worker.clinics` without HTTP: keywords, HELP, TwiML, errors, keys."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from worker.api.errors import field_error
from worker.callbacks import STATUS_STATES
from worker.clinics import add_clinic, authenticate, get_clinic, list_clinics, revoke_clinic
from worker.contact import inbound_number
from worker.errors import NotFound, ValidationError
from worker.records import MessageState
from worker.replies import Keyword, keyword, twiml
from worker.store import ClinicStore
from worker.store.keys import clinic_key

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "body, expected",
    [
        ("STOP", Keyword.STOP),
        (" sToP ", Keyword.STOP),
        ("stopall", Keyword.STOP),
        ("UNSUBSCRIBE", Keyword.STOP),
        ("Cancel", Keyword.STOP),
        ("end", Keyword.STOP),
        ("QUIT", Keyword.STOP),
        ("revoke", Keyword.STOP),
        ("optout", Keyword.STOP),
        ("\nSTOP\r\n", Keyword.STOP),
        ("START", Keyword.START),
        ("unstop", Keyword.START),
        (" yes ", Keyword.START),
        ("HELP", Keyword.HELP),
        ("info", Keyword.HELP),
        ("", None),
        ("stop it", None),
        ("STOP.", Keyword.STOP),
        ("¡Stop!", Keyword.STOP),
        ("parar", Keyword.STOP),
        ("Alto", Keyword.STOP),
        ("CANCELAR", Keyword.STOP),
        ("baja", Keyword.STOP),
        ("Comenzar", Keyword.START),
        ("AYUDA", Keyword.HELP),
        ("ayúda", Keyword.HELP),
        ("Pause", Keyword.PAUSE),
        (" pausa. ", Keyword.PAUSE),
        ("PAUSÁ", Keyword.PAUSE),
        ("🛑 STOP 🛑", Keyword.STOP),
        ("opt out", None),
        ("pausa por favor", None),
        ("no parar", None),
        ("S T O P", None),
        ("   ", None),
        ("x" * 1600, None),
        ("Yes please", None),
        ("HELP ME", None),
    ],
)
def test_keywords(body: str, expected: Keyword | None) -> None:
    assert keyword(body) is expected


def test_status_mapping() -> None:
    assert {k: v.value for k, v in STATUS_STATES.items()} == {
        "queued": "sent",
        "accepted": "sent",
        "sending": "sent",
        "sent": "sent",
        "delivered": "delivered",
        "read": "delivered",
        "undelivered": "undelivered",
        "failed": "failed",
    }
    assert MessageState.DELIVERED in STATUS_STATES.values()


def test_twiml_escapes() -> None:
    assert twiml(None) == '<?xml version="1.0" encoding="UTF-8"?><Response/>'
    assert (
        twiml("A & B <C>")
        == '<?xml version="1.0" encoding="UTF-8"?><Response><Message>A &amp; B &lt;C&gt;</Message></Response>'
    )


@pytest.mark.parametrize(
    "raw, number",
    [("+14155552671", "+14155552671"), (" +1 415 555 2671", "+14155552671"), ("14155552671", "+14155552671"), ("", "")],
)
def test_inbound_number(raw: str, number: str) -> None:
    assert inbound_number(raw) == number


@pytest.mark.parametrize(
    "error, expected",
    [
        (
            {"loc": ("body",), "msg": "Value error, phone: required when channels include sms", "type": "value_error"},
            {"loc": ["body", "phone"], "msg": "required when channels include sms", "type": "value_error"},
        ),
        (
            {"loc": ("body",), "msg": "Value error, consent.sms: consent is required", "type": "value_error"},
            {"loc": ["body", "consent", "sms"], "msg": "consent is required", "type": "value_error"},
        ),
        (
            {"loc": ("body", "phone"), "msg": "Value error, is not a valid phone number", "type": "value_error"},
            {"loc": ["body", "phone"], "msg": "is not a valid phone number", "type": "value_error"},
        ),
        (
            {
                "loc": ("body", "first_name"),
                "msg": "String should have at most 100 characters",
                "type": "string_too_long",
                "input": "x" * 500,
                "ctx": {"max_length": 100},
            },
            {
                "loc": ["body", "first_name"],
                "msg": "String should have at most 100 characters",
                "type": "string_too_long",
            },
        ),
    ],
)
def test_field_error_moves_the_field_into_loc(error: dict[str, object], expected: dict[str, object]) -> None:
    assert field_error(error) == expected


# -- clinics on the real Redis --------------------------------------------------------------------
def test_add_authenticate_list_revoke(clinic_store: ClinicStore) -> None:
    cid, key = add_clinic(clinic_store, "  Riverside Family Clinic ", " +14155550100 ", "Front@Riverside.example", NOW)
    assert cid.startswith("c_") and len(cid) == 10
    assert key.startswith("cdk_") and len(key) > 40
    assert authenticate(clinic_store, key) == cid
    assert authenticate(clinic_store, key + "x") is None
    assert authenticate(clinic_store, "") is None
    assert authenticate(clinic_store, "k" * 5000) is None
    info = get_clinic(clinic_store, cid)
    assert (info.name, info.phone, info.email) == ("Riverside Family Clinic", "+14155550100", "Front@riverside.example")
    assert info.created_at == NOW and info.active
    other, _ = add_clinic(clinic_store, "Hillside", None, None, NOW)
    assert [c.id for c in list_clinics(clinic_store)] == sorted([cid, other])
    assert key not in str(clinic_store.redis.hgetall(clinic_key(cid)))
    assert revoke_clinic(clinic_store, cid, NOW)
    assert revoke_clinic(clinic_store, cid, NOW)  # twice is harmless
    assert authenticate(clinic_store, key) is None
    assert not get_clinic(clinic_store, cid).active
    assert not revoke_clinic(clinic_store, "c_00000000", NOW)
    with pytest.raises(NotFound):
        get_clinic(clinic_store, "c_00000000")


def test_a_clinic_line_may_be_a_landline(clinic_store: ClinicStore) -> None:
    cid, _ = add_clinic(clinic_store, "London Clinic", "+442071838750", None, NOW)
    assert get_clinic(clinic_store, cid).phone == "+442071838750"


def test_a_clinic_line_may_be_in_the_fictional_555_01xx_range(clinic_store: ClinicStore) -> None:
    """The README's own example (issue 13 item 21): possible, not valid, so clinics may use it."""
    cid, _ = add_clinic(clinic_store, "Riverside Family Clinic", "+15550102345", None, NOW)
    assert get_clinic(clinic_store, cid).phone == "+15550102345"


@pytest.mark.parametrize(
    "name, phone, email, field",
    [
        ("", None, None, "name"),
        ("Bad\x00Name", None, None, "name"),
        ("x" * 101, None, None, "name"),
        ("Ok", "4155550100", None, "phone"),
        ("Ok", "+1999", None, "phone"),
        ("Ok", "+1 415 555 0100", None, "phone"),
        ("Ok", "+1 (555) 010-2345", None, "phone"),
        ("Ok", "+1415555ABCD", None, "phone"),
        ("Ok", "+14155550100 ext. 12", None, "phone"),
        ("Ok", None, "not-an-address", "email"),
        ("Ok", None, "a@b.example\r\nBcc: c@d.example", "email"),
    ],
)
def test_add_clinic_validates(
    clinic_store: ClinicStore, name: str, phone: str | None, email: str | None, field: str
) -> None:
    with pytest.raises(ValidationError) as info:
        add_clinic(clinic_store, name, phone, email, NOW)
    assert info.value.field == field
    assert list_clinics(clinic_store) == []
