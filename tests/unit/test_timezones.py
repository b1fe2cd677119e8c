"""`worker.timezones`: only canonical IANA names are taken; an alias is refused naming its canonical zone."""

from __future__ import annotations

from zoneinfo import ZoneInfo, available_timezones

import pytest

from worker.timezones import canonical_zone, canonical_zones


@pytest.mark.parametrize(
    "name",
    [
        "America/New_York",
        "America/Argentina/Buenos_Aires",
        "Asia/Kolkata",
        "Asia/Kathmandu",
        "Europe/Kyiv",
        "Europe/Amsterdam",  # a link since tzdb 2022b, but zone.tab's name for the Netherlands
        "Australia/Lord_Howe",
        "Pacific/Chatham",
        "UTC",
        "Etc/UTC",
        "Etc/GMT+5",
    ],
)
def test_canonical_names_pass_unchanged(name: str) -> None:
    assert canonical_zone(name) == name


@pytest.mark.parametrize(
    ("alias", "canonical"),
    [
        ("US/Eastern", "America/New_York"),
        ("US/Pacific", "America/Los_Angeles"),
        ("Asia/Calcutta", "Asia/Kolkata"),
        ("Europe/Kiev", "Europe/Kyiv"),
        ("America/Buenos_Aires", "America/Argentina/Buenos_Aires"),
        ("Canada/Eastern", "America/Toronto"),
        ("Zulu", "Etc/UTC"),
    ],
)
def test_an_alias_is_refused_naming_the_canonical_zone(alias: str, canonical: str) -> None:
    with pytest.raises(ValueError, match=f"use the canonical name {canonical}$"):
        canonical_zone(alias)


@pytest.mark.parametrize(("name", "words"), [("localtime", "not a place"), ("Factory", "not a place"),
                                             ("Mars/Olympus_Mons", "IANA"), ("america/new_york", "IANA"),
                                             ("", "IANA"), ("../../etc/passwd", "IANA")])
def test_placeholders_and_unknown_names_are_refused(name: str, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        canonical_zone(name)


def test_every_loadable_name_is_canonical_or_refused_with_a_loadable_canonical_name() -> None:
    """The table comes from the tzdata package, not a hand-kept list: check it against zoneinfo."""
    canonical = canonical_zones()
    assert len(canonical) > 400
    assert canonical <= available_timezones()
    suggested: dict[str, str] = {}
    for name in sorted(available_timezones() - canonical):
        with pytest.raises(ValueError) as refused:
            canonical_zone(name)
        _, sep, suggestion = str(refused.value).rpartition("use the canonical name ")
        if sep:
            assert suggestion in canonical, name
            suggested[name] = ZoneInfo(suggestion).key
    assert len(suggested) > 100  # the backward-compatibility links
