"""Figure 4: enrollments a second, through the engine directly and through the HTTP API.

Engine: `enroll()` called one enrollment at a time in this process (each new: an id, the due
times, the store's create script, the due index and the phone's clinic), the way the API and the
Celery intake task call it. HTTP: `uvicorn worker.api:app --workers 2` (2 API processes) on a
private Redis; a small asyncio client in this process keeps 32 keep-alive connections busy with
`POST /v1/enrollments` (each a new patient, answered 201). Every enrollment is checked to exist.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `python bench/<name>.py` from anywhere

import redis

from bench._common import (
    emit,
    group_cpu_seconds,
    live_deps,
    private_redis,
    quiet_logs,
    redis_info,
    start_process,
    stop_process,
    wait_port,
    worker_env,
)
from tests.support.engine import new_enrollment
from worker.clinics import add_clinic
from worker.enrollment import enroll
from worker.redis_server import free_port
from worker.store import ClinicStore
from worker.store.keys import due_key

CONNECTIONS = 32


def engine_rate(url: str, var: Path, count: int) -> float:
    deps = live_deps(url, var / "outbox.jsonl")
    news = [new_enrollment(f"e-{i}", phone=f"+1415{i:07d}", email=f"e{i}@example.com") for i in range(count)]
    t0 = time.perf_counter()
    for new in news:
        enroll(deps.engine, new)
    elapsed = time.perf_counter() - t0
    assert deps.engine.store.redis.zcard(due_key("sms")) >= count
    return count / elapsed


def body(i: int) -> bytes:
    return json.dumps(
        {
            "patient_ref": f"h-{i}",
            "program": "twitching",
            "first_name": "Ana",
            "phone": f"+1415{2_000_000 + i:07d}",
            "email": f"h{i}@example.com",
            "channels": ["sms", "email"],
            "language": "en",
            "timezone": "America/New_York",
            "consent": {"sms": True, "email": True, "recorded_at": "2026-01-01T00:00:00Z"},
        }
    ).encode()


async def post_all(port: int, key: str, count: int) -> tuple[float, dict[int, int]]:
    """POST `count` enrollments over CONNECTIONS keep-alive connections; (seconds, statuses)."""
    counter = iter(range(count))
    statuses: dict[int, int] = {}

    async def connection() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for i in counter:
            payload = body(i)
            writer.write(
                b"POST /v1/enrollments HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
                b"Authorization: Bearer "
                + key.encode()
                + b"\r\nContent-Length: "
                + str(len(payload)).encode()
                + b"\r\n\r\n"
                + payload
            )
            status_line = await reader.readline()
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await reader.readexactly(length)
            status = int(status_line.split()[1])
            statuses[status] = statuses.get(status, 0) + 1
        writer.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(CONNECTIONS)))
    return time.perf_counter() - t0, statuses


def http_rate(url: str, var: Path, count: int) -> dict[str, object]:
    client = redis.Redis.from_url(url, decode_responses=True)
    _cid, key = add_clinic(ClinicStore(client), "Bench Clinic", "+14155550100", None, datetime.now(UTC))
    port = free_port()
    env = worker_env(url, var, PUBLIC_BASE_URL=f"http://127.0.0.1:{port}")
    api = start_process(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "worker.api:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "2",
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        env,
    )
    try:
        wait_port(port, 60)
        asyncio.run(post_all(port, key, 200))  # warm-up: both processes imported, connections open
        before = int(client.zcard(due_key("sms")))
        cpu0 = group_cpu_seconds([api.pid])
        seconds, statuses = asyncio.run(post_all(port, key, count + 200))  # ids 0..199 again: answered 200
        cpu = group_cpu_seconds([api.pid]) - cpu0
    finally:
        stop_process(api)
    assert statuses.get(201, 0) == count and statuses.get(200, 0) == 200, statuses
    assert int(client.zcard(due_key("sms"))) - before == count
    total = count + 200
    return {
        "requests": total,
        "seconds": round(seconds, 3),
        "rate": round(total / seconds, 1),
        "statuses": statuses,
        "api_cpu_ms_per_request": round(cpu / total * 1000, 3),
    }


def main() -> None:
    quiet_logs()
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--engine", type=int, default=10_000)
    parser.add_argument("--http", type=int, default=5_000)
    args = parser.parse_args()
    with private_redis() as server:
        var = server.data_dir.parent / "var"
        engine = engine_rate(server.url, var, args.engine)
        http = http_rate(server.url, var, args.http)
        emit(
            {
                "figure": "intake",
                "engine_per_second": round(engine, 1),
                "engine_enrollments": args.engine,
                "http_per_second": http["rate"],
                "http": http,
                "api_processes": 2,
                "connections": CONNECTIONS,
                "targets": {"engine_per_second": 3000, "http_per_second": 500},
                **redis_info(server.url),
            }
        )


if __name__ == "__main__":
    main()
