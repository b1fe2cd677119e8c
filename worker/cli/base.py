"""The `caredrip` app and what every command shares: one line on stderr for caredrip's own errors
(exit 2 for bad settings or input, 1 otherwise), the settings, the clock, JSON output.

Heavy imports happen inside the commands so that `caredrip run` reaches its children quickly.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, ParamSpec, TypeVar

import typer

from worker.errors import CaredripError, ConfigError, ValidationError

if TYPE_CHECKING:
    from worker.settings import Settings

P = ParamSpec("P")
R = TypeVar("R")

app = typer.Typer(
    name="caredrip", no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
    help="Scheduled patient-education messaging: programs dripped by SMS and email at the patient's local time.",
)  # fmt: skip


@app.callback()
def _private_files() -> None:
    # Whatever a command writes under var/ (and the children `caredrip run` starts) is this user's only.
    from worker.var_dir import use_private_umask

    use_private_umask()


JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def fail(message: str, code: int) -> NoReturn:
    typer.echo(message, err=True)
    raise typer.Exit(code)


def guarded(command: Callable[P, R]) -> Callable[P, R]:
    """Turn caredrip's own errors into one line on stderr: exit 2 for bad settings or input."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except (ConfigError, ValidationError) as exc:
            fail(str(exc), 2)
        except CaredripError as exc:
            fail(str(exc), 1)
        except Exception as exc:
            # redis-py is imported by the commands that use it (~0.1 s): if it never was, this is not its error.
            redis = sys.modules.get("redis")
            if redis is not None and isinstance(exc, redis.ConnectionError):
                fail(f"cannot reach Redis: {exc}", 1)
            raise

    return wrapper


def settings() -> Settings:
    from worker import wiring

    return wiring.settings()


def now() -> datetime:
    from worker import wiring

    return wiring.clock().now()


def print_json(value: Any) -> None:
    typer.echo(json.dumps(value, ensure_ascii=False, indent=2))


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def split(values: str) -> list[str]:
    return [v.strip() for v in values.split(",") if v.strip()]


def parse_instant(field: str, value: str) -> datetime:
    try:
        instant = datetime.fromisoformat(value)
    except ValueError:
        raise ValidationError(field, f"not an ISO 8601 time: {value!r}") from None
    if instant.tzinfo is None:
        raise ValidationError(field, "needs a UTC offset, e.g. 2026-03-01T10:00:00-05:00")
    return instant.astimezone(UTC)
