"""Bulk intake: 100,000 generated rows through `caredrip enroll --csv FILE --clinic ID`.

The command runs as a real subprocess against the embedded Redis of a fresh var dir (started
first by this script, as any `caredrip` command would, so the figure is the intake alone). Wall
time is from the command's start to its exit; peak memory is the command's own maximum resident
set size (`os.wait4` rusage, ru_maxrss). Afterwards every row is checked to be stored with its due
entries; then the same file is run again (every row already enrolled) and timed too.
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `python bench/<name>.py` from anywhere

import redis

from bench._common import AWAKE, emit
from worker.clinics import add_clinic
from worker.redis_server import ensure_embedded, stop_embedded
from worker.store import ClinicStore
from worker.store.keys import due_key

ROOT = Path(__file__).resolve().parents[1]
CAREDRIP = str(Path(sys.executable).parent / "caredrip")
HEADER = ["patient_ref", "program", "first_name", "phone", "email", "channels", "language", "timezone",
          "consent_sms", "consent_email", "consent_recorded_at"]  # fmt: skip


def write_rows(path: Path, count: int) -> None:
    """`count` distinct patients, SMS and email, zones cycling through AWAKE, half of them in Spanish."""
    with path.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(HEADER)
        for i in range(count):
            out.writerow([f"MRN-{i:07d}", "twitching", "Ana", f"+1415{3_000_000 + i:07d}", f"p{i}@example.com",
                          "sms;email", "en" if i % 2 else "es", AWAKE[i % len(AWAKE)], "true", "true",
                          "2026-01-01T00:00:00Z"])  # fmt: skip


def run_cli(env: dict[str, str], *args: str) -> tuple[float, float, int, str]:
    """(wall seconds, CPU seconds, peak RSS in KiB, stdout) of one `caredrip` run, which must exit 0."""
    t0 = time.perf_counter()
    child = subprocess.Popen([CAREDRIP, *args], env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert child.stdout is not None
    out = child.stdout.read().decode()
    _, status, usage = os.wait4(child.pid, 0)
    elapsed = time.perf_counter() - t0
    child.returncode = os.waitstatus_to_exitcode(status)
    assert child.returncode == 0, out
    return elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="caredrip-bulk-") as tmp:
        var = Path(tmp) / "var"
        var.mkdir(mode=0o700)
        url = ensure_embedded(var).url
        try:
            client = redis.Redis.from_url(url, decode_responses=True)
            clinic_id, _ = add_clinic(ClinicStore(client), "Bench Clinic", None, None, datetime.now(UTC))
            path = Path(tmp) / "patients.csv"
            write_rows(path, args.rows)
            env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
            env.update(CAREDRIP_VAR_DIR=str(var), CAREDRIP_ENV="development")
            first, cpu, rss, out = run_cli(env, "enroll", "--csv", str(path), "--clinic", clinic_id)
            stored = (client.zcard(due_key("sms")), client.zcard(due_key("email")))
            assert f"created {args.rows}," in out, out
            assert stored == (args.rows, args.rows), stored
            again, cpu_again, rss_again, out_again = run_cli(env, "enroll", "--csv", str(path), "--clinic", clinic_id)
            assert f"already enrolled {args.rows}," in out_again, out_again
            emit({
                "figure": "bulk_intake", "rows": args.rows, "file_bytes": path.stat().st_size,
                "wall_seconds": round(first, 2), "cpu_seconds": round(cpu, 2), "again_cpu_seconds": round(cpu_again, 2),
                "load_average_1m": os.getloadavg()[0], "rows_per_second": round(args.rows / first),
                "peak_rss_mib": round(rss / 1024, 1), "again_wall_seconds": round(again, 2),
                "again_peak_rss_mib": round(rss_again / 1024, 1), "redis_used_memory_mib":
                round(int(client.info("memory")["used_memory"]) / 2**20, 1),
            })  # fmt: skip
            client.close()
        finally:
            stop_embedded(var)


if __name__ == "__main__":
    main()
