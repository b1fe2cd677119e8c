"""GET /v1/clinic and PUT /v1/clinic/webhook over HTTP: the caller's own clinic only, a new
signing secret each time, a clear 422 naming `url`, removal with `{"url": null}`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from starlette.testclient import TestClient

from tests.api.conftest import BASE_URL, CLINIC_NAME, CLINIC_PHONE
from worker.store import ClinicStore

HOOK = "https://clinic.example/caredrip/events"


@pytest.fixture
def other(api: FastAPI, other_clinic: tuple[str, str]) -> Iterator[TestClient]:
    with TestClient(api, base_url=BASE_URL, headers={"Authorization": f"Bearer {other_clinic[1]}"}) as c:
        yield c


def test_get_clinic_is_the_callers_own(
    client: TestClient, other: TestClient, clinic: tuple[str, str], other_clinic: tuple[str, str]
) -> None:
    assert client.get("/v1/clinic").json() == {
        "id": clinic[0],
        "name": CLINIC_NAME,
        "phone": CLINIC_PHONE,
        "email": "front@riverside.example",
        "webhook_url": None,
    }
    assert other.get("/v1/clinic").json() == {
        "id": other_clinic[0], "name": "Hillside Clinic", "phone": None, "email": None, "webhook_url": None
    }  # fmt: skip


def test_without_a_key_the_clinic_is_401(anon: TestClient) -> None:
    assert anon.get("/v1/clinic").status_code == 401
    assert anon.put("/v1/clinic/webhook", json={"url": HOOK}).status_code == 401


def test_registering_answers_a_new_secret_each_time_for_the_callers_clinic_only(
    client: TestClient, other: TestClient, clinic_store: ClinicStore, clinic: tuple[str, str]
) -> None:
    first = client.put("/v1/clinic/webhook", json={"url": HOOK})
    assert first.status_code == 200, first.text
    assert first.json()["url"] == HOOK and first.json()["secret"].startswith("whsec_")
    again = client.put("/v1/clinic/webhook", json={"url": HOOK + "/v2"}).json()
    assert again["secret"] != first.json()["secret"]
    assert client.get("/v1/clinic").json()["webhook_url"] == HOOK + "/v2"
    assert other.get("/v1/clinic").json()["webhook_url"] is None
    stored = clinic_store.get(clinic[0])
    assert again["secret"] not in stored.values()  # kept sealed


@pytest.mark.parametrize(
    "url",
    [
        "",
        "not a url",
        "ftp://clinic.example/x",
        "https://",
        "https://user:pw@clinic.example/x",
        "https://clinic.example/x#frag",
        "https://clinic.example:99999/x",
        "https://clinic.example/" + "a" * 2001,
        12,
    ],
)
def test_a_bad_url_is_422_naming_url_and_changes_nothing(client: TestClient, url: object) -> None:
    client.put("/v1/clinic/webhook", json={"url": HOOK})
    response = client.put("/v1/clinic/webhook", json={"url": url})
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"][-1] == "url"
    assert client.get("/v1/clinic").json()["webhook_url"] == HOOK


def test_a_body_without_url_is_422(client: TestClient) -> None:
    response = client.put("/v1/clinic/webhook", json={"uri": HOOK})
    assert response.status_code == 422
    assert ["body", "url"] in [e["loc"] for e in response.json()["detail"]]


def test_plain_http_is_allowed_outside_production(client: TestClient) -> None:
    response = client.put("/v1/clinic/webhook", json={"url": "http://127.0.0.1:9000/hook"})
    assert response.status_code == 200 and response.json()["url"] == "http://127.0.0.1:9000/hook"


def test_null_removes_the_webhook(client: TestClient) -> None:
    client.put("/v1/clinic/webhook", json={"url": HOOK})
    assert client.put("/v1/clinic/webhook", json={"url": None}).json() == {"url": None, "secret": None}
    assert client.get("/v1/clinic").json()["webhook_url"] is None
