"""The README's signature check is runnable as printed and agrees with worker.webhooks.sign:
a good signature passes; a tampered body, another secret and an old timestamp fail."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

from worker.webhooks import new_secret, sign

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_verifier() -> Callable[..., bool]:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)
    [snippet] = [b for b in blocks if "def verify_caredrip" in b]
    namespace: dict[str, object] = {}
    exec(compile(snippet, "README.md", "exec"), namespace)
    verifier = namespace["verify_caredrip"]
    assert callable(verifier)
    return verifier


def test_the_readme_snippet_verifies_what_caredrip_signs() -> None:
    verify_caredrip = readme_verifier()
    secret, body = new_secret(), b'{"id":"evt_1","type":"reply.received","data":{}}'
    t = int(time.time())  # the snippet reads the real clock, as a clinic's server does
    header = sign(secret, body, t)
    assert verify_caredrip(secret, body, header)
    assert verify_caredrip(secret, body, f"{header},v1=00ff")  # one of several v1 entries
    assert not verify_caredrip(secret, body + b" ", header)
    assert not verify_caredrip(new_secret(), body, header)
    assert not verify_caredrip(secret, body, sign(secret, body, t - 3600))  # a replay of an old request
    assert not verify_caredrip(secret, body, "v1=" + header.split("v1=")[1])  # no timestamp
    assert not verify_caredrip(secret, body, "garbage")
