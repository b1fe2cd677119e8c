"""The API behind a real uvicorn server on loopback, driven with httpx; and `worker.api` at import."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from tests.api.conftest import PATIENT_PHONE, TWILIO_TOKEN, enrollment_body
from tests.support.redis_fixture import wait_until
from worker.api import create_app
from worker.deps import EngineDeps
from worker.store import ClinicStore, Store

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server_url(engine: EngineDeps, clinic_store: ClinicStore) -> Iterator[str]:
    """The app served by uvicorn in a thread; PUBLIC_BASE_URL is the server's own address."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    app: FastAPI = create_app(engine, clinic_store, public_base_url=base, twilio_auth_token=TWILIO_TOKEN)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    wait_until(lambda: server.started, timeout=10)
    yield base
    server.should_exit = True
    thread.join(timeout=10)
    assert not thread.is_alive()


def test_concurrent_posts_of_one_patient_make_one_enrollment(
    server_url: str, clinic: tuple[str, str], store: Store
) -> None:
    headers = {"Authorization": f"Bearer {clinic[1]}"}
    with httpx.Client(base_url=server_url, headers=headers, timeout=10) as http:

        def post(_: int) -> httpx.Response:
            return http.post("/v1/enrollments", json=enrollment_body())

        with ThreadPoolExecutor(max_workers=20) as pool:
            responses = list(pool.map(post, range(20)))
        codes = sorted(r.status_code for r in responses)
        assert codes == [200] * 19 + [201]
        assert len({r.json()["id"] for r in responses}) == 1
        assert len(list(store.redis.scan_iter("cd:{e:*}"))) == 1
        eid = responses[0].json()["id"]
        assert http.get(f"/v1/enrollments/{eid}").json()["state"] == "active"
        assert http.post(f"/v1/enrollments/{eid}/pause").json()["state"] == "paused"


def test_real_server_checks_signatures_against_its_public_url(server_url: str, store: Store) -> None:
    from twilio.request_validator import RequestValidator

    params = {"From": PATIENT_PHONE, "To": "+14155550199", "Body": "Stop"}
    path = "/webhooks/twilio/inbound"
    with httpx.Client(base_url=server_url, timeout=10) as http:
        forged = http.post(path, data=params, headers={"X-Twilio-Signature": "AAAA"})
        assert forged.status_code == 403
        assert store.sms_opted_out([PATIENT_PHONE]) == [False]
        signature = RequestValidator(TWILIO_TOKEN).compute_signature(server_url + path, params)
        response = http.post(path, data=params, headers={"X-Twilio-Signature": signature})
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/xml")
        assert store.sms_opted_out([PATIENT_PHONE]) == [True]


def test_real_server_refuses_big_bodies(server_url: str, clinic: tuple[str, str]) -> None:
    headers = {"Authorization": f"Bearer {clinic[1]}", "Content-Type": "application/json"}

    def chunks() -> Iterator[bytes]:
        for _ in range(100):
            yield b" " * 1024

    with httpx.Client(base_url=server_url, headers=headers, timeout=10) as http:
        assert http.post("/v1/enrollments", content=b" " * (65 * 1024)).status_code == 413
        assert http.post("/v1/enrollments", content=chunks()).status_code == 413
        assert http.get("/healthz").json() == {"status": "ok", "redis": True}
        assert "caredrip_due_backlog" in http.get("/metrics").text
        assert http.get("/openapi.json").json()["info"]["title"] == "caredrip"


def test_importing_the_module_app_connects_to_nothing(tmp_path: Path) -> None:
    """`uvicorn worker.api:app` must import without Redis (REDIS_URL points nowhere here)."""
    env = {**os.environ, "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0", "CAREDRIP_VAR_DIR": str(tmp_path / "var")}
    code = (
        "import worker.api, worker.wiring as w\n"
        "assert w.redis_client.cache_info().currsize == 0\n"
        "assert w.engine_deps.cache_info().currsize == 0\n"
        "print(sorted(worker.api.app.openapi()['paths'])[0])\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "/healthz"
    assert not (tmp_path / "var").exists()
