"""Which URLs a clinic may register as its webhook.

https anywhere; plain http only outside production, or to this machine (loopback: a local relay).
No credentials in the URL (the signature authenticates caredrip; a password in a URL ends up in
logs), no fragment, a host, at most 2,000 characters; in production no private, link-local or
reserved IP address (a clinic's URL never reaches inside caredrip's own network by address).
A pure function: the caller says whether this is production.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from worker.errors import ValidationError

MAX_URL_CHARS = 2000
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})


def is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_internal(host: str) -> bool:
    """An IP literal of a private, link-local (cloud metadata), multicast, reserved or unspecified
    address: in production, caredrip does not POST inside its own network on a clinic's word."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    return not ip.is_loopback and (
        ip.is_private or ip.is_link_local or ip.is_multicast or ip.is_reserved or ip.is_unspecified
    )


def check_url(raw: object, *, production: bool, field: str = "url") -> str:
    """The URL as given, if a clinic may register it; ValidationError naming `field` otherwise."""
    if not isinstance(raw, str) or not raw.strip():
        raise ValidationError(field, "a webhook URL is required (https://…)")
    url = raw.strip()
    if len(url) > MAX_URL_CHARS or not url.isprintable() or any(c.isspace() for c in url):
        raise ValidationError(field, f"not a URL (at most {MAX_URL_CHARS} printable characters, no spaces)")
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        _ = parts.port  # a bad port raises here
    except ValueError:
        raise ValidationError(field, "not a URL") from None
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http") or not host:
        raise ValidationError(field, "must be an https:// URL with a host")
    if parts.username is not None or parts.password is not None:
        raise ValidationError(field, "must not carry a user name or password")
    if parts.fragment:
        raise ValidationError(field, "must not have a #fragment")
    if scheme == "http" and production and not is_loopback(host):
        raise ValidationError(field, "must use https in production (http only to localhost)")
    if production and is_internal(host):
        raise ValidationError(field, "must not name a private, link-local or reserved address")
    return url
