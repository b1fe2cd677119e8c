from __future__ import annotations

import pytest

from worker.segments import SegmentCount, count_segments, is_gsm7

EMOJI = "\U0001f48a"  # pill, outside the BMP: a surrogate pair in UTF-16
UCS = "á"  # not in GSM-7: forces UCS-2


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", SegmentCount("GSM-7", 1, 0)),
        ("a" * 160, SegmentCount("GSM-7", 1, 160)),
        ("a" * 161, SegmentCount("GSM-7", 2, 161)),
        ("a" * 306, SegmentCount("GSM-7", 2, 306)),
        ("a" * 307, SegmentCount("GSM-7", 3, 307)),
        ("€" * 80, SegmentCount("GSM-7", 1, 160)),
        ("€" * 81, SegmentCount("GSM-7", 2, 162)),
        ("^{}\\[~]|\f", SegmentCount("GSM-7", 1, 18)),
        # 306 septets would fit 2 parts, but the escape pair at 153/154 is pushed to part 2.
        ("a" * 152 + "€" + "a" * 152, SegmentCount("GSM-7", 3, 306)),
        (UCS * 70, SegmentCount("UCS-2", 1, 70)),
        (UCS * 71, SegmentCount("UCS-2", 2, 71)),
        (UCS * 134, SegmentCount("UCS-2", 2, 134)),
        (UCS * 135, SegmentCount("UCS-2", 3, 135)),
        (EMOJI, SegmentCount("UCS-2", 1, 2)),
        (EMOJI * 35, SegmentCount("UCS-2", 1, 70)),
        (EMOJI * 36, SegmentCount("UCS-2", 2, 72)),
        # 134 units would fit 2 parts, but the surrogate pair at 67/68 is pushed to part 2.
        ("a" * 66 + EMOJI + "a" * 66, SegmentCount("UCS-2", 3, 134)),
        ("a" * 159 + "’", SegmentCount("UCS-2", 3, 160)),
    ],
)
def test_count_segments(text: str, expected: SegmentCount) -> None:
    assert count_segments(text) == expected


@pytest.mark.parametrize(
    ("text", "gsm"),
    [
        ("Take your pill with water.", True),
        ("Tome su pastilla con el niño.", True),
        ("¿Qué tal? ¡Muy bien! Ñoño, pingüino, Über, É", True),
        ("Médico", True),
        ("á", False),
        ("í", False),
        ("ó", False),
        ("ú", False),
        ("It’s time", False),
        ("“quoted”", False),
        ("Take it " + EMOJI, False),
        ("Costs €5 {approx} [ok] ~ | ^ \\", True),
    ],
)
def test_is_gsm7(text: str, gsm: bool) -> None:
    assert is_gsm7(text) is gsm
    assert count_segments(text).encoding == ("GSM-7" if gsm else "UCS-2")


def test_one_curly_quote_turns_a_long_message_ucs2() -> None:
    plain = "Remember your appointment tomorrow at 9am. " * 3
    assert count_segments(plain).encoding == "GSM-7"
    assert count_segments(plain + "’").encoding == "UCS-2"
    assert count_segments(plain + "’").segments == 2


def test_basic_table_fast_path_counts_as_the_general_rule() -> None:
    """Text of the GSM-7 basic table alone skips the per-character costs: same figures."""
    import random

    from worker.segments import _LIMITS, GSM7, GSM7_BASIC, _pack, _unit_costs

    rng, alphabet = random.Random(7), sorted(GSM7_BASIC)
    for length in [*range(0, 480, 7), 153, 159, 160, 161, 306, 307, 459, 460]:
        text = "".join(rng.choice(alphabet) for _ in range(length))
        costs = _unit_costs(text, GSM7)
        single, per_part = _LIMITS[GSM7]
        expected = 1 if sum(costs) <= single else _pack(costs, per_part)
        assert count_segments(text) == SegmentCount(GSM7, expected, sum(costs))
