"""Flower behind a real password: `python -m worker.flower [flower options]` checks
`FLOWER_BASIC_AUTH`, then becomes `celery -A worker.celery_app flower [flower options]`.

Flower reads `FLOWER_BASIC_AUTH` (`user:password[,user:password]`) from the environment itself, so
the password never shows on a command line. Flower lists every task and can revoke them, so this
refuses to start it without that setting, with a placeholder password (the env examples'
`change-me`) or a short one: one line naming the setting, exit 2, like every caredrip process.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence

from worker.settings import placeholder_word

SETTING = "FLOWER_BASIC_AUTH"
MIN_PASSWORD_LENGTH = 12


def auth_problem(value: str | None) -> str | None:
    """Why `value` may not guard Flower (missing, malformed, placeholder or short password), or None.
    Never repeats the password."""
    if not value:
        return f"{SETTING}: required, user:password (Flower shows every task)"
    for pair in value.split(","):
        user, colon, password = pair.partition(":")
        if not (colon and user and password):
            return f"{SETTING}: expected user:password, several separated by ','"
        word = placeholder_word(password)
        if word is not None:
            return f"{SETTING}: the password of {user!r} looks like a placeholder (it contains {word!r})"
        if len(password) < MIN_PASSWORD_LENGTH:
            return f"{SETTING}: the password of {user!r} is shorter than {MIN_PASSWORD_LENGTH} characters"
    return None


def main(argv: Sequence[str] | None = None, execv: Callable[[str, list[str]], object] = os.execv) -> None:
    """Refuse (exit 2) or replace this process with Flower on caredrip's Celery app."""
    problem = auth_problem(os.environ.get(SETTING))
    if problem is not None:
        print(f"setting {problem}", file=sys.stderr)
        raise SystemExit(2)
    options = list(sys.argv[1:] if argv is None else argv)
    execv(sys.executable, [sys.executable, "-m", "celery", "-A", "worker.celery_app", "flower", *options])


if __name__ == "__main__":
    main()
