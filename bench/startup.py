"""Figure 6: `caredrip run` on a fresh var/ until GET /healthz answers 200, embedded Redis included.

Each run: a new empty CAREDRIP_VAR_DIR, no REDIS_URL (so the command starts its embedded Redis),
`caredrip run --port P` from the repository root; the clock runs from the spawn until /healthz
answers 200 (polled every 20 ms). Then SIGTERM, and the command must stop everything it started.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `python bench/<name>.py` from anywhere

from bench._common import emit, start_process, stop_process
from worker.redis_server import free_port


def healthy(port: int) -> bool:
    with contextlib.suppress(OSError), urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=0.5) as r:
        return bool(r.status == 200)
    return False


def one_start(timeout: float = 60.0) -> float:
    with tempfile.TemporaryDirectory(prefix="caredrip-start-") as tmp:
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CAREDRIP_", "REDIS_URL", "SMS_", "EMAIL_"))}
        env.update(CAREDRIP_VAR_DIR=str(Path(tmp) / "var"), PATH=f"{Path(sys.executable).parent}:{env['PATH']}")
        t0 = time.perf_counter()
        process = start_process([str(Path(sys.executable).parent / "caredrip"), "run", "--port", str(port)], env)
        try:
            while not healthy(port):
                if process.poll() is not None:
                    raise RuntimeError(f"caredrip run exited with {process.returncode}")
                if time.perf_counter() - t0 > timeout:
                    raise RuntimeError("no 200 from /healthz")
                time.sleep(0.02)
            elapsed = time.perf_counter() - t0
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGTERM)  # the command stops its own children
            try:
                process.wait(30)
            except Exception:
                stop_process(process)
            _kill_leftover_redis(Path(tmp) / "var")
        return elapsed


def _kill_leftover_redis(var: Path) -> None:
    """Should the command leave its embedded Redis behind, stop it (and say so on stderr)."""
    for pidfile in var.rglob("redis.pid"):
        with contextlib.suppress(ValueError, ProcessLookupError, OSError):
            pid = int(pidfile.read_text().strip())
            os.kill(pid, 0)
            print(f"startup bench: embedded redis {pid} left running; stopping it", file=sys.stderr)
            os.kill(pid, signal.SIGTERM)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=1, help="starts in this process (run_all repeats the script)")
    args = parser.parse_args()
    times = [one_start() for _ in range(args.runs)]
    emit(
        {
            "figure": "startup",
            "seconds": round(statistics.median(times), 3),
            "all_seconds": [round(t, 3) for t in times],
            "target_seconds": 5.0,
        }
    )


if __name__ == "__main__":
    main()
