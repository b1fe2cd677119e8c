"""Red-flag replies: a program's warning signs as data, and the check every inbound reply gets.

`load_red_flags(content_dir, program)` (or the cached `red_flags_for`) reads
`content/<program>/red_flags.yaml`; `RedFlags.check(text, language)` answers a RedFlagMatch or
None. The check is pure and fast (a 1,600-character reply in well under a millisecond once its
words are warm; see tests/unit/test_redflags.py), so it runs inside the inbound webhook.
"""

from worker.redflags.data import Hit, LanguageFlags, RedFlagMatch, RedFlags, load_red_flags, red_flags_for

__all__ = ["Hit", "LanguageFlags", "RedFlagMatch", "RedFlags", "load_red_flags", "red_flags_for"]
