"""URLs as caredrip may print them: the password masked, everything else kept.

Every URL `caredrip run` and `caredrip demo` print (Redis, the API) goes through `mask_url`, so a
banner, a log line or a terminal scroll-back never holds a credential. Both places a Redis URL can
carry one are masked: the userinfo (`redis://user:secret@host`) and a `password=` query parameter.
"""

from __future__ import annotations

import re

MASK = "***"
_USERINFO_PASSWORD = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<user>[^:@/?#]*):(?P<password>[^/?#]*)@")
_QUERY_PASSWORD = re.compile(r"(?i)([?&]password=)[^&#]*")


def mask_url(url: str) -> str:
    """`redis://:secret@host:6379/0` -> `redis://:***@host:6379/0`; a URL without a password unchanged."""
    masked = _USERINFO_PASSWORD.sub(rf"\g<scheme>\g<user>:{MASK}@", url, count=1)
    return _QUERY_PASSWORD.sub(rf"\g<1>{MASK}", masked)
