"""A real `caredrip run` for the console's browser tests, and the product's own doors to it.

`live_run()` starts the whole stack (API, worker, beat, an embedded Redis under a private
CAREDRIP_VAR_DIR) as a subprocess in its own session, on a scaled clock, with SMS sent through the
real twilio library to a local Twilio stand-in; it stops it with SIGINT as an operator would, then
kills whatever is left tied to the var dir, so nothing outlives the tests. `LiveRun` sets data up
only through doors a clinic, an operator or Twilio uses: `caredrip clinic add`, `caredrip operator
add`, `POST /v1/enrollments` with the clinic key, a signed Twilio inbound webhook.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from twilio.request_validator import RequestValidator

from tests.ops.conftest import CAREDRIP, REPO, caredrip, cli_env, kill_leftovers
from tests.support.redis_fixture import wait_until
from tests.support.twilio_standin import TwilioStandIn
from worker.redis_server import free_port, stop_embedded

SCALE = 60  # caredrip's clock runs an hour a real minute
TWILIO_SID = "AC" + "0123456789abcdef" * 2
TWILIO_TOKEN = "console-e2e-" + "7f3a9c" * 4
TWILIO_FROM = "+15005550006"
SMS_RATE = 1  # messages a real second: a dozen due at once is a backlog an operator can watch drain
CAPS = "sms:3/day,6/week"  # room for an operator's resend on the day of the original


@dataclass(frozen=True)
class LiveRun:
    """A running `caredrip run`: its base URL, environment (for CLI calls) and Twilio stand-in."""

    base: str
    env: dict[str, str]
    var_dir: Path
    standin: TwilioStandIn

    def cli(self, *args: str) -> str:
        """`caredrip args…` on this run's var dir; its stdout (a nonzero exit fails the test)."""
        done = caredrip(self.env, *args)
        assert done.returncode == 0, f"caredrip {' '.join(args)}: {done.stderr}"
        return done.stdout

    def add_clinic(self, name: str, phone: str = "+14155550100") -> str:
        """`caredrip clinic add`: the new clinic's key (its last line)."""
        return self.cli("clinic", "add", name, "--phone", phone).strip().splitlines()[-1]

    def add_operator(self, name: str) -> str:
        """`caredrip operator add`: the console token (its last line)."""
        return self.cli("operator", "add", name).strip().splitlines()[-1]

    def now(self) -> datetime:
        """caredrip's (scaled) clock, as `caredrip status --json` reads it."""
        return datetime.fromisoformat(json.loads(self.cli("status", "--json"))["now"])

    def api(self, method: str, path: str, key: str, body: Any = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {key}"}
        return httpx.request(method, self.base + path, json=body, headers=headers, timeout=10)

    def enroll(self, key: str, patient_ref: str, phone: str, timezone: str) -> dict[str, Any]:
        """POST /v1/enrollments as the clinic: an SMS-only patient; the enrollment (201)."""
        body = {
            "patient_ref": patient_ref, "program": "twitching", "first_name": "Ana", "phone": phone,
            "channels": ["sms"], "language": "en", "timezone": timezone,
            "consent": {"sms": True, "recorded_at": "2026-01-01T00:00:00Z"},
        }  # fmt: skip
        answer = self.api("POST", "/v1/enrollments", key, body)
        assert answer.status_code == 201, answer.text
        enrollment: dict[str, Any] = answer.json()
        return enrollment

    def enrollment(self, key: str, eid: str) -> dict[str, Any]:
        answer = self.api("GET", f"/v1/enrollments/{eid}", key)
        assert answer.status_code == 200, answer.text
        found: dict[str, Any] = answer.json()
        return found

    def messages(self, key: str, eid: str) -> list[dict[str, Any]]:
        answer = self.api("GET", f"/v1/enrollments/{eid}/messages", key)
        assert answer.status_code == 200, answer.text
        found: list[dict[str, Any]] = answer.json()["messages"]
        return found

    def wait_for_state(self, key: str, eid: str, step: str, state: str) -> dict[str, Any]:
        """The first record of `step` once it reaches `state` (the run's worker sends meanwhile)."""

        def reached() -> dict[str, Any] | None:
            return next((m for m in self.messages(key, eid) if m["step"] == step and m["state"] == state), None)

        found: dict[str, Any] = wait_until(reached, timeout=30, interval=0.2)
        return found

    def inbound(self, sender: str, text: str, sid: str) -> httpx.Response:
        """A patient's SMS as Twilio posts it: signed with the run's auth token over PUBLIC_BASE_URL."""
        path = "/webhooks/twilio/inbound"
        params = {"MessageSid": sid, "From": sender, "To": TWILIO_FROM, "Body": text}
        signature = RequestValidator(TWILIO_TOKEN).compute_signature(self.base + path, params)
        return httpx.post(self.base + path, data=params, headers={"X-Twilio-Signature": signature}, timeout=10)


def zone_at(now: datetime, hours: range) -> str:
    """A fixed-offset IANA zone whose local hour at `now` is in `hours`."""
    for offset in range(-12, 15):
        if (now + timedelta(hours=offset)).hour in hours:
            return "Etc/GMT" if offset == 0 else f"Etc/GMT{-offset:+d}"  # Etc/GMT signs are inverted
    raise AssertionError(f"no zone has a local hour in {hours} at {now}")


def _healthy(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=0.5).status_code == 200
    except httpx.HTTPError:
        return False


def _workers_answer(env: dict[str, str]) -> bool:
    done = caredrip(env, "status", "--json")
    return done.returncode == 0 and bool(json.loads(done.stdout)["workers"])


@contextlib.contextmanager
def live_run(var_dir: Path, log_path: Path) -> Iterator[LiveRun]:
    """`caredrip run` on `var_dir` until the block ends, its worker answering; then stopped, and
    nothing tied to `var_dir` left running (asserted)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with TwilioStandIn(auth_token=TWILIO_TOKEN) as standin, log_path.open("wb") as log:
        env = cli_env(
            var_dir, CAREDRIP_TIME_SCALE=str(SCALE), SMS_CHANNEL="twilio", TWILIO_ACCOUNT_SID=TWILIO_SID,
            TWILIO_AUTH_TOKEN=TWILIO_TOKEN, TWILIO_FROM_NUMBER=TWILIO_FROM, TWILIO_API_BASE_URL=standin.base_url,
            PUBLIC_BASE_URL=base, SMS_RATE_PER_SECOND=str(SMS_RATE), CAREDRIP_CAPS=CAPS,
        )  # fmt: skip
        env.pop("TWILIO_MESSAGING_SERVICE_SID", None)
        run = subprocess.Popen([CAREDRIP, "run", "--port", str(port)], env=env, cwd=REPO, stdout=log,
                               stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
        try:
            wait_until(lambda: run.poll() is not None or _healthy(base), timeout=60, interval=0.1)
            assert run.poll() is None, f"caredrip run exited: {log_path.read_text()}"
            wait_until(lambda: _workers_answer(env), timeout=60, interval=0.5)
            yield LiveRun(base, env, var_dir, standin)
        finally:
            _stop(run)
            with contextlib.suppress(Exception):
                stop_embedded(var_dir)
            leftovers = kill_leftovers(var_dir)
    assert not leftovers, f"processes left behind: {leftovers}"
    assert "Traceback" not in log_path.read_text(), log_path.read_text()[-4000:]


def _stop(run: subprocess.Popen[bytes]) -> None:
    """SIGINT (what Ctrl-C sends), then SIGKILL of its process group past a bound."""
    if run.poll() is not None:
        return
    run.send_signal(signal.SIGINT)
    try:
        run.wait(timeout=30)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(run.pid, signal.SIGKILL)
        run.wait(timeout=5)
