"""`python -m worker.cli`: the same as the `caredrip` command."""

from worker.cli import app

app(prog_name="caredrip")
