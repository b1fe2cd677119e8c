"""Canonical IANA time zone names: which names a patient's timezone may be stored under.

`zoneinfo.available_timezones()` also lists the backward-compatibility aliases (`US/Eastern`,
`Asia/Calcutta`), tzdb's `Factory` placeholder and the host's `localtime`, and every one of them
loads. A clinic's records should name each zone one way, so only canonical names are taken:

- every Zone of the tz database (`Z` lines of the compact `tzdata.zi` the tzdata package ships),
- every name `zone.tab` lists for a country (a few are links today, e.g. `Europe/Amsterdam`, but
  they are the current names of those places),
- `UTC`,

never `Factory`. An alias is refused with the name it points to, so the clinic can send that.
Nothing here is a hand-kept list: a new tzdata release brings its own names.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from zoneinfo import available_timezones

EXAMPLE = "America/New_York"
_NOT_PLACES = frozenset({"Factory"})  # a tzdb Zone, but "local time zone must be set"
_ALWAYS = frozenset({"UTC"})


@cache
def _tzdb() -> tuple[frozenset[str], dict[str, str]]:
    """(canonical names, alias -> canonical name), read once from the tzdata package."""
    data = files("tzdata").joinpath("zoneinfo")
    zones: set[str] = set()
    links: dict[str, str] = {}
    for line in data.joinpath("tzdata.zi").read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "Z":
            zones.add(parts[1])
        elif len(parts) >= 3 and parts[0] == "L":
            links[parts[2]] = parts[1]
    for line in data.joinpath("zone.tab").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            zones.add(line.split("\t")[2])
    canonical = (zones | _ALWAYS) - _NOT_PLACES
    loadable = available_timezones()
    return frozenset(canonical & loadable), {alias: target for alias, target in links.items() if alias not in canonical}


def canonical_zones() -> frozenset[str]:
    """Every name `canonical_zone` accepts."""
    return _tzdb()[0]


def canonical_zone(name: str) -> str:
    """`name` if it is a canonical IANA zone; raises ValueError saying what to send instead."""
    canonical, aliases = _tzdb()
    if name in canonical:
        return name
    target = aliases.get(name)
    if target in canonical:
        raise ValueError(f"{name} is an old alias kept for compatibility: use the canonical name {target}")
    if name in _NOT_PLACES or name == "localtime":
        raise ValueError(f"{name} is not a place's time zone: use the patient's IANA zone, e.g. {EXAMPLE}")
    raise ValueError(f"is not a known IANA timezone, e.g. {EXAMPLE}")
