"""Masking of patient contact details for logs and error text.

Channels and anything else that might write a recipient into a log line use these two helpers,
so no full phone number or email address ever reaches a log: a number keeps its last 4 digits,
an address keeps the first character of its local part and its domain.
"""

from __future__ import annotations


def mask_phone(number: str) -> str:
    """`+15551234567` -> `***4567`; fewer than 5 digits leaves nothing recognisable: `***`."""
    digits = [c for c in number if c.isdigit()]
    if len(digits) < 5:
        return "***"
    return "***" + "".join(digits[-4:])


def mask_email(address: str) -> str:
    """`alice@example.com` -> `a***@example.com`; anything without one `@` becomes `***`."""
    local, at, domain = address.strip().rpartition("@")
    if not at or not local or not domain:
        return "***"
    return f"{local[0]}***@{domain}"
