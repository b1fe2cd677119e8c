"""Run every benchmark N times (default 3), print the medians and write bench/results.json.

`python bench/run_all.py [--runs N] [--only NAME ...]`. Each script prints one JSON object; numeric
fields (nested ones too) are reduced to their median across runs, everything else is kept from
the last run. Runs are sequential: the machine has 2 cores and every figure needs both.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
SCRIPTS: dict[str, list[str]] = {
    "send_throughput": [],
    "twilio_latency": [],
    "scale": [],
    "program_memory": [],
    "intake": [],
    "timeliness": ["--messages", "20000"],
    "startup": [],
}


def run_one(name: str, args: list[str]) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, str(BENCH / f"{name}.py"), *args],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=BENCH.parent,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{name} failed ({done.returncode}): {done.stderr[-2000:]}")
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def medians(runs: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, last in runs[-1].items():
        values = [r.get(key) for r in runs]
        if isinstance(last, dict):
            out[key] = medians([v for v in values if isinstance(v, dict)])
        elif isinstance(last, (int, float)) and not isinstance(last, bool):
            out[key] = statistics.median(v for v in values if isinstance(v, (int, float)))
        else:
            out[key] = last
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", nargs="*", choices=sorted(SCRIPTS), default=None)
    args = parser.parse_args()
    results: dict[str, Any] = {}
    started = time.monotonic()
    for name in args.only or SCRIPTS:
        runs = []
        for i in range(args.runs):
            t0 = time.monotonic()
            runs.append(run_one(name, SCRIPTS[name]))
            print(f"{name} run {i + 1}/{args.runs}: {time.monotonic() - t0:.0f}s", file=sys.stderr, flush=True)
        results[name] = {"median": medians(runs), "runs": runs}
        print(json.dumps({name: results[name]["median"]}, sort_keys=True), flush=True)
    results["total_seconds"] = round(time.monotonic() - started, 1)
    (BENCH / "results.json").write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
