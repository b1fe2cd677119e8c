"""The reliability suite shares the HTTP API fixtures of tests/api (the app over real engine deps
on the session Redis, a clinic and its key, a second clinic), imported rather than copied."""

from tests.api.conftest import (  # noqa: F401
    anon,
    api,
    client,
    clinic,
    clinic_store,
    clock,
    delivery,
    engine,
    enrolled,
    other_clinic,
    outbox,
    store,
)
