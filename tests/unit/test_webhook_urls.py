"""Which webhook URLs a clinic may register, as a table: https anywhere, http only outside
production or to loopback, never credentials or a fragment; a refusal names `url`."""

from __future__ import annotations

import pytest

from worker.errors import ValidationError
from worker.webhooks.urls import check_url

OK = [
    ("https://clinic.example/hook", True),
    ("https://clinic.example:8443/a/b?x=1", True),
    ("  https://clinic.example/hook  ", True),  # spaces around are dropped
    ("HTTPS://clinic.example/hook", True),
    ("http://localhost:9000/hook", True),
    ("http://127.0.0.1:9000/hook", True),
    ("http://[::1]:9000/hook", True),
    ("http://clinic.example/hook", False),  # plain http: development only
    ("https://10.0.0.5/hook", False),  # a private address: development only
    ("https://93.184.215.14/hook", True),  # a public address
]
REFUSED = [
    (None, False),
    ("", False),
    ("   ", False),
    ("clinic.example/hook", False),
    ("ftp://clinic.example/hook", False),
    ("javascript:alert(1)", False),
    ("https://", False),
    ("https://user:secret@clinic.example/hook", False),
    ("https://clinic.example/hook#part", False),
    ("https://clinic.example:70000/hook", False),
    ("https://clinic.example/a b", False),
    ("https://clinic.example/\u0000", False),
    ("https://clinic.example/" + "x" * 2000, False),
    ("http://clinic.example/hook", True),  # production wants https
    ("http://10.0.0.5/hook", True),
    ("https://10.0.0.5/hook", True),  # inside the network, by address
    ("https://169.254.169.254/latest/meta-data", True),  # cloud metadata
    ("https://[fe80::1]/hook", True),
    ("https://0.0.0.0/hook", True),
    (["https://clinic.example"], False),
]


@pytest.mark.parametrize(("url", "production"), OK)
def test_allowed(url: str, production: bool) -> None:
    assert check_url(url, production=production) == url.strip()
    assert check_url(url, production=False) == url.strip()


@pytest.mark.parametrize(("url", "production"), REFUSED)
def test_refused_naming_url(url: object, production: bool) -> None:
    with pytest.raises(ValidationError) as caught:
        check_url(url, production=production)
    assert caught.value.field == "url" and caught.value.message
