"""SMS segment counting: GSM-7 vs UCS-2 encoding, units, and how many parts a carrier bills.

Pure functions, no I/O. GSM-7: 160 septets in one segment, 153 per part when concatenated,
extension characters cost 2 and their escape pair is never split across parts. UCS-2: 70
UTF-16 units in one segment, 67 per part, and a surrogate pair (emoji) is never split.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

# Any character outside the GSM-7 basic table: text without one is GSM-7, one septet a character.
_OUTSIDE_BASIC = re.compile("[^" + "".join(sorted(re.escape(ch) for ch in GSM7_BASIC)) + "]")

GSM7 = "GSM-7"
UCS2 = "UCS-2"
_LIMITS = {GSM7: (160, 153), UCS2: (70, 67)}


@dataclass(frozen=True)
class SegmentCount:
    """`units`: septets for GSM-7 (extension chars count 2), UTF-16 code units for UCS-2."""

    encoding: str  # "GSM-7" or "UCS-2"
    segments: int
    units: int


def is_gsm7(text: str) -> bool:
    """True if every character is in the GSM-7 basic or extension table."""
    return all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text)


def _unit_costs(text: str, encoding: str) -> list[int]:
    if encoding == GSM7:
        return [2 if ch in GSM7_EXTENSION else 1 for ch in text]
    return [2 if ord(ch) > 0xFFFF else 1 for ch in text]


def _pack(costs: list[int], per_part: int) -> int:
    """Greedy packing: a character that does not fit whole starts the next part."""
    parts, used = 1, 0
    for cost in costs:
        if used + cost > per_part:
            parts, used = parts + 1, 0
        used += cost
    return parts


def count_segments(text: str) -> SegmentCount:
    """Encoding, billed segments and units for `text`; empty text is one segment."""
    if _OUTSIDE_BASIC.search(text) is None:  # the usual SMS: no per-character costs to add up
        units = len(text)
        single, per_part = _LIMITS[GSM7]
        return SegmentCount(GSM7, 1 if units <= single else -(-units // per_part), units)
    encoding = GSM7 if is_gsm7(text) else UCS2
    costs = _unit_costs(text, encoding)
    units = sum(costs)
    single, per_part = _LIMITS[encoding]
    segments = 1 if units <= single else _pack(costs, per_part)
    return SegmentCount(encoding=encoding, segments=segments, units=units)
