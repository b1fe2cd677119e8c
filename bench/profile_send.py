"""The send path's profile: pyinstrument over send_batch in-process (outbox channel, batches of 100).

2,000 SMS-only enrollments are due now on a private Redis; this process sends them in batches
of 100 exactly as a worker's task does (`send_batch`), under pyinstrument. Prints the five
largest costs (self time by function, as fractions of the total) as one JSON object; with
`--html PATH` also writes the full profile. `--cpu` sends without the profiler instead and
reports this process's CPU per message (the send path as one worker process runs it), Redis's
CPU per message and the commands Redis processed per message (INFO: client commands, a Lua
call counted once), and whether redis-py uses hiredis (hide it with
`PYTHONPATH=bench/no_hiredis:. python bench/profile_send.py --cpu`).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `python bench/<name>.py` from anywhere

from pyinstrument import Profiler

from bench._common import (
    awake_timezone,
    build_enrollment,
    bulk_store,
    emit,
    live_deps,
    private_redis,
    quiet_logs,
    sms_only,
)
from worker.delivery.send import send_batch
from worker.delivery.types import DeliveryDeps
from worker.store.keys import lease_key


def cpu_figures(deps: DeliveryDeps, batches: list[list[str]], messages: int) -> dict[str, Any]:
    import time

    import redis.utils

    client = deps.engine.store.redis
    before = client.info()
    cpu0, t0 = time.process_time(), time.perf_counter()
    for batch in batches:
        send_batch(deps, "sms", batch)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - t0
    after = client.info()
    redis_cpu = sum(float(after[k]) - float(before[k]) for k in ("used_cpu_user", "used_cpu_sys"))
    commands = int(after["total_commands_processed"]) - int(before["total_commands_processed"])
    return {
        "figure": "send_cpu",
        "messages": messages,
        "hiredis": bool(redis.utils.HIREDIS_AVAILABLE),
        "cpu_ms_per_message": round(cpu / messages * 1000, 4),
        "redis_cpu_ms_per_message": round(redis_cpu / messages * 1000, 4),
        "redis_commands_per_message": round(commands / messages, 2),
        "messages_per_second_one_process": round(messages / wall, 1),
        "load_1min": round(os.getloadavg()[0], 2),
    }


def main() -> None:
    quiet_logs()
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--html", type=Path, default=None)
    parser.add_argument("--cpu", action="store_true", help="no profiler: CPU and commands per message")
    args = parser.parse_args()
    with private_redis() as server:
        deps = live_deps(server.url, server.data_dir.parent / "var" / "outbox.jsonl")
        tz, now = awake_timezone(), datetime.now(UTC)
        enrollments = [build_enrollment(deps, sms_only(i, tz), now) for i in range(args.messages)]
        bulk_store(deps, enrollments)
        store = deps.engine.store
        batches = []
        while claimed := store.claim("sms", datetime.now(UTC), 100, 300_000):
            batches.append([c.handle for c in claimed])
        send_batch(deps, "sms", batches.pop())  # warm: templates compiled, scripts loaded
        if args.cpu:
            emit(cpu_figures(deps, batches, args.messages - 100))
            return
        profiler = Profiler(interval=0.0005)
        profiler.start()
        for batch in batches:
            send_batch(deps, "sms", batch)
        profiler.stop()
        assert store.redis.zcard(lease_key("sms")) == 0
    session = profiler.last_session
    assert session is not None
    total = session.duration
    own: Counter[str] = Counter()

    def walk(frame: Any, label: str) -> None:
        """Self time by function; pyinstrument's synthetic `[self]` frames count for their parent."""
        if not str(frame.function).startswith("["):
            label = f"{frame.function} ({Path(frame.file_path_short or '').name}:{frame.line_no})"
        own[label] += frame.total_self_time
        for child in frame.children:
            walk(child, label)

    root = session.root_frame()
    assert root is not None
    walk(root, "root")
    if args.html:
        args.html.write_text(profiler.output_html())
    top = [{"function": name, "seconds": round(t, 3), "share": round(t / total, 3)} for name, t in own.most_common(5)]
    emit(
        {
            "figure": "send_profile",
            "messages": args.messages - 100,
            "seconds": round(total, 3),
            "messages_per_second_one_process": round((args.messages - 100) / total, 1),
            "top5_self": top,
        }
    )


if __name__ == "__main__":
    main()
