"""Celery beat for `caredrip run` and `caredrip demo`: the settings and broker of
`worker.celery_app`, without its task modules, started without the `celery` command line.

Beat only publishes: every second `caredrip.dispatch` and `caredrip.webhooks_due`, by name, to the
queues `task_routes` names, with the options of `beat_schedule`. The same message leaves whether
the task is registered in the process or not. Loading `worker.tasks` (the whole engine) and the
`celery` command (every subcommand and click-repl) was most of beat's start-up CPU, spent on the
cores the API and the worker start on; `python -m worker.beat_app --schedule FILE` runs
`app.Beat(...)` as `celery beat --quiet` does.
"""

from __future__ import annotations

import argparse

from celery import Celery

from worker.celery_app import configured

app = configured(Celery("caredrip"))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m worker.beat_app", description="caredrip's Celery beat.")
    parser.add_argument("-s", "--schedule", required=True, help="the file beat keeps its schedule state in")
    parser.add_argument("-l", "--loglevel", default="WARNING")
    args = parser.parse_args(argv)
    app.Beat(schedule=args.schedule, loglevel=args.loglevel, quiet=True).run()


if __name__ == "__main__":
    main()
