"""The console over HTTP, no browser: sign-in and sessions, CSRF, clinic isolation, masking,
escaping, and a clear 4xx page (never a 500) for every bad request."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.testclient import TestClient

from tests.console.conftest import BASE_URL, console_app, csrf_of, sign_in, stamp_unknown
from tests.support.engine import new_enrollment
from worker.clinics import revoke_key
from worker.delivery.types import DeliveryDeps
from worker.deps import EngineDeps
from worker.enrollment import enroll
from worker.records import Enrollment, EnrollmentState
from worker.store import ClinicStore, ConsoleStore
from worker.tokens import key_id


def _html(response: object) -> str:
    text: str = response.text  # type: ignore[attr-defined]
    return text


def test_an_operator_signs_in_and_sees_operations(browser_client: TestClient, operator: tuple[str, str]) -> None:
    answer = sign_in(browser_client, operator[1])
    assert answer.status_code == 303 and answer.headers["location"] == "/console/operations"
    cookie = next(v for k, v in answer.headers.multi_items() if k == "set-cookie" and v.startswith("cd_console="))
    flags = {f.strip().lower() for f in cookie.split(";")[1:]}
    assert {"httponly", "samesite=strict", "path=/console", "max-age=28800"} <= flags
    assert "secure" not in flags  # development: served over http
    page = browser_client.get("/console/operations")
    assert page.status_code == 200
    assert "Dispatch heartbeat stale" in page.text  # no dispatch has run on this store
    assert "Dana Ops" in page.text and page.headers["content-security-policy"].startswith("default-src 'self'")


def test_the_cookie_is_secure_in_production(
    engine: EngineDeps, clinic_store: ClinicStore, delivery: DeliveryDeps, operator: tuple[str, str]
) -> None:
    app = console_app(engine, clinic_store, delivery, secure_cookie=True)
    with TestClient(app, base_url="https://testserver") as c:  # a Secure cookie comes back over https only
        answer = sign_in(c, operator[1])
        cookie = next(v for k, v in answer.headers.multi_items() if k == "set-cookie" and v.startswith("cd_console="))
        assert "secure" in cookie.lower()


def test_the_session_is_kept_hashed_with_a_ttl(
    browser_client: TestClient, clinic: tuple[str, str], console_store: ConsoleStore
) -> None:
    sign_in(browser_client, clinic[1])
    sid = browser_client.cookies["cd_console"]
    keys = [k for k in console_store.redis.scan_iter("cd:session:*")]
    assert len(keys) == 1 and sid not in keys[0]
    assert 28790 <= console_store.redis.ttl(keys[0]) <= 28800
    assert clinic[1] not in str(console_store.redis.hgetall(keys[0]))  # only the key's hash


def test_a_wrong_token_gets_401_and_no_session(browser_client: TestClient, operator: tuple[str, str]) -> None:
    answer = sign_in(browser_client, operator[1] + "x")
    assert answer.status_code == 401 and "not valid" in answer.text
    assert "cd_console" not in browser_client.cookies
    assert sign_in(browser_client, "cdk_" + "A" * 43).status_code == 401  # nor an unknown clinic key


def test_without_a_session_pages_send_the_browser_to_sign_in(browser_client: TestClient) -> None:
    for path in ("/console", "/console/patients", "/console/operations", "/console/programs"):
        answer = browser_client.get(path, follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"] == "/console/signin", path


def test_a_forged_session_gets_a_401_page(browser_client: TestClient, patient: Enrollment) -> None:
    for forged in ("A" * 43, "<script>", "x" * 5000, "' OR 1=1 --"):
        browser_client.cookies.set("cd_console", forged, path="/console")
        answer = browser_client.get(f"/console/patients/{patient.id}", follow_redirects=False)
        assert answer.status_code == 401, forged
        assert "text/html" in answer.headers["content-type"] and "Sign in again" in answer.text
        assert "<script>" not in answer.text


def test_sign_in_needs_its_form_token(browser_client: TestClient, operator: tuple[str, str]) -> None:
    answer = browser_client.post("/console/signin", data={"token": operator[1]}, follow_redirects=False)
    assert answer.status_code == 403 and "cd_console" not in browser_client.cookies


def test_a_post_without_or_with_a_wrong_csrf_token_gets_403_and_changes_nothing(
    as_clinic: TestClient, patient: Enrollment, engine: EngineDeps
) -> None:
    path = f"/console/patients/{patient.id}/pause"
    assert as_clinic.post(path, data={}, follow_redirects=False).status_code == 403
    assert as_clinic.post(path, data={"csrf": "A" * 43}, follow_redirects=False).status_code == 403
    assert "security token" in as_clinic.post(path, data={"csrf": ""}).text
    assert engine.store.get_enrollment(patient.id).state is EnrollmentState.ACTIVE  # type: ignore[union-attr]
    csrf = csrf_of(as_clinic.get(f"/console/patients/{patient.id}").text)
    answer = as_clinic.post(path, data={"csrf": csrf}, follow_redirects=False)
    assert answer.status_code == 303
    assert engine.store.get_enrollment(patient.id).state is EnrollmentState.PAUSED  # type: ignore[union-attr]


def test_a_session_token_from_another_session_is_refused(
    app: FastAPI, as_clinic: TestClient, clinic: tuple[str, str], patient: Enrollment
) -> None:
    with TestClient(app, base_url=BASE_URL) as second:
        sign_in(second, clinic[1])
        other_csrf = csrf_of(second.get("/console/patients").text)
    answer = as_clinic.post(f"/console/patients/{patient.id}/cancel", data={"csrf": other_csrf})
    assert answer.status_code == 403


def test_a_clinic_finds_its_patient_by_patient_ref_and_reads_the_timeline(
    as_clinic: TestClient, patient: Enrollment
) -> None:
    found = as_clinic.get("/console/patients", params={"ref": "MRN-0042"})
    assert found.status_code == 200 and f"/console/patients/{patient.id}" in found.text
    page = as_clinic.get(f"/console/patients/{patient.id}")
    assert page.status_code == 200
    assert "Ana" in page.text and "+14155552671" in page.text and "MRN-0042" in page.text
    assert "welcome" in page.text and "scheduled" in page.text and "planned" in page.text


def test_another_clinics_patient_is_a_404_page_everywhere(
    app: FastAPI, other_clinic: tuple[str, str], patient: Enrollment, engine: EngineDeps
) -> None:
    with TestClient(app, base_url=BASE_URL) as other:
        sign_in(other, other_clinic[1])
        assert "No enrollment of your clinic" in other.get("/console/patients", params={"ref": "MRN-0042"}).text
        page = other.get(f"/console/patients/{patient.id}")
        assert page.status_code == 404 and "Ana" not in page.text and "text/html" in page.headers["content-type"]
        csrf = csrf_of(other.get("/console/patients").text)
        for action in ("pause", "cancel"):
            assert other.post(f"/console/patients/{patient.id}/{action}", data={"csrf": csrf}).status_code == 404
        assert other.get("/console/patients/not-an-id!").status_code == 404
    assert engine.store.get_enrollment(patient.id).state is EnrollmentState.ACTIVE  # type: ignore[union-attr]


def test_html_in_a_name_is_shown_as_text(as_clinic: TestClient, engine: EngineDeps, clinic: tuple[str, str]) -> None:
    name = '<script>alert("x")</script><b>Ana</b>'
    enrollment, _ = enroll(engine, new_enrollment("MRN-7", clinic_id=clinic[0], first_name=name))
    page = as_clinic.get(f"/console/patients/{enrollment.id}")
    assert page.status_code == 200
    assert "<script>alert" not in page.text and "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page.text


def test_an_operator_sees_masked_contact_and_no_name(as_operator: TestClient, patient: Enrollment) -> None:
    page = as_operator.get(f"/console/patients/{patient.id}")
    assert page.status_code == 200
    assert "***2671" in page.text and "a***@example.com" in page.text
    for private in ("+14155552671", "ana@example.com", "Ana", "MRN-0042"):
        assert private not in page.text, private


def test_operations_is_for_operators_only(as_clinic: TestClient) -> None:
    for path in ("/console/operations", "/console/operations/figures", "/console/operations/series.json"):
        assert as_clinic.get(path).status_code == 403, path


def test_revoking_the_clinic_key_ends_its_sessions(
    as_clinic: TestClient, clinic: tuple[str, str], clinic_store: ClinicStore, engine: EngineDeps
) -> None:
    assert as_clinic.get("/console/patients").status_code == 200
    from worker.tokens import hash_key

    revoke_key(clinic_store, key_id(hash_key(clinic[1])), engine.clock.now())
    assert as_clinic.get("/console/patients", follow_redirects=False).status_code == 401


def test_signing_out_ends_the_session(as_clinic: TestClient) -> None:
    csrf = csrf_of(as_clinic.get("/console/patients").text)
    sid = as_clinic.cookies["cd_console"]
    assert as_clinic.post("/console/signout", data={"csrf": csrf}, follow_redirects=False).status_code == 303
    as_clinic.cookies.set("cd_console", sid, path="/console")  # the old cookie, replayed
    assert as_clinic.get("/console/patients", follow_redirects=False).status_code == 401


def test_resend_asks_first_then_obeys_the_cli_rules(
    as_operator: TestClient, delivery: DeliveryDeps, engine: EngineDeps, clinic: tuple[str, str]
) -> None:
    enrollment, _ = enroll(engine, new_enrollment("MRN-9", clinic_id=clinic[0], channels=("sms",), email=None))
    mid = stamp_unknown(delivery, enrollment)
    listed = as_operator.get("/console/operations")
    assert mid in listed.text and f"/console/messages/{mid}/resend" in listed.text and "***2671" in listed.text
    confirm = as_operator.get(f"/console/messages/{mid}/resend")
    assert confirm.status_code == 200 and "Yes, resend it" in confirm.text
    # 10:02 in New York, but the unknown message counts toward today's cap: the rules refuse it.
    refused = as_operator.post(f"/console/messages/{mid}/resend", data={"csrf": csrf_of(confirm.text)})
    assert refused.status_code == 409 and "caps allow its next message" in refused.text
    assert as_operator.post(f"/console/messages/{mid}/resend", data={}).status_code == 403


def test_bad_input_gets_clear_4xx_pages(as_clinic: TestClient) -> None:
    cases = {
        "/console/nowhere": 404,
        "/console/programs/nope": 404,
        "/console/programs/twitching?timezone=Mars/Olympus": 422,
        "/console/programs/twitching?language=fr": 422,
        "/console/programs/twitching?start=yesterday": 422,
        "/console/messages/x.y.z.1/resend": 403,  # operators only
        "/console/patients?ref=" + "x" * 300: 422,
    }
    for path, status in cases.items():
        answer = as_clinic.get(path)
        assert answer.status_code == status, (path, answer.status_code)
        assert "text/html" in answer.headers["content-type"], path
    assert (
        as_clinic.post("/console/signin", content=b"\xff\xfe", headers={"content-type": "text/plain"}).status_code
        == 415
    )


def test_a_spanish_calendar_renders_each_message_with_its_cost_and_grade(as_clinic: TestClient) -> None:
    page = as_clinic.get("/console/programs/twitching", params={"language": "es", "timezone": "America/Mexico_City"})
    assert page.status_code == 200
    assert 'lang="es"' in page.text and "UCS-2" in page.text and "grade" in page.text
    assert "STOP" in page.text and "America/Mexico_City" in page.text


def test_a_clinic_reads_and_acknowledges_its_patients_replies_an_operator_never_sees_them(
    as_clinic: TestClient, as_operator: TestClient, patient: Enrollment, engine: EngineDeps, clinic: tuple[str, str]
) -> None:
    from worker.inbox import record_reply

    body = "my hand <b>feels</b> weaker"
    reply = record_reply(engine, clinic[0], patient.id, body, engine.clock.now(), red_flag=True)
    page = as_clinic.get(f"/console/patients/{patient.id}")
    assert "my hand &lt;b&gt;feels&lt;/b&gt; weaker" in page.text and "red flag" in page.text
    ack = f"/console/patients/{patient.id}/replies/{reply.id}/ack"
    assert as_clinic.post(ack, data={}).status_code == 403
    done = as_clinic.post(ack, data={"csrf": csrf_of(page.text)})
    assert done.status_code == 200 and "Acknowledged" in done.text and "Done: acknowledged." in done.text
    assert (
        as_clinic.post(
            f"/console/patients/{patient.id}/replies/nope/ack", data={"csrf": csrf_of(page.text)}
        ).status_code
        == 404
    )
    seen = as_operator.get(f"/console/patients/{patient.id}")
    assert seen.status_code == 200 and "weaker" not in seen.text and "Replies" not in seen.text


def test_a_session_names_its_actor_as_the_api_names_a_key(
    app: FastAPI, clinic: tuple[str, str], operator: tuple[str, str], console_store: ConsoleStore
) -> None:
    from starlette.requests import Request

    from worker.console.auth import current
    from worker.console.deps import console
    from worker.tokens import hash_key

    for secret, expected in ((clinic[1], f"clinic:{clinic[0]} key:{key_id(hash_key(clinic[1]))}"),
                             (operator[1], f"operator:{operator[0]}")):  # fmt: skip
        with TestClient(app, base_url=BASE_URL) as c:
            sign_in(c, secret)
            cookie = f"cd_console={c.cookies['cd_console']}".encode()
        scope = {"type": "http", "headers": [(b"cookie", cookie)], "app": app}
        request = Request(scope)
        who = current(request, console(request))
        assert who is not None and who.actor == expected
