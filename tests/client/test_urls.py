"""The one derivation of an endpoint's scoring and base URLs, shared by the client, docs and the load test."""

from __future__ import annotations

import pytest

from bankmarketing_client import ScoringClient
from bankmarketing_client.errors import ConfigurationError
from bankmarketing_client.urls import endpoint_urls, redact_url


@pytest.mark.parametrize(
    ("given", "scoring", "base"),
    [
        ("http://10.0.0.1:8890", "http://10.0.0.1:8890/score", "http://10.0.0.1:8890/"),
        ("http://10.0.0.1:8890/", "http://10.0.0.1:8890/score", "http://10.0.0.1:8890/"),
        ("http://10.0.0.1:8890/score", "http://10.0.0.1:8890/score", "http://10.0.0.1:8890/"),
        ("HTTP://10.0.0.1/score/?version=2#x", "http://10.0.0.1/score", "http://10.0.0.1/"),
        ("http://[::1]:81/score", "http://[::1]:81/score", "http://[::1]:81/"),
        ("https://h.example/api/v1/service/bank/score", "https://h.example/api/v1/service/bank/score",
         "https://h.example/api/v1/service/bank/"),
        ("http://1.2.3.4/api/v1/service/bank/swagger.json", "http://1.2.3.4/api/v1/service/bank/swagger.json",
         "http://1.2.3.4/api/v1/service/bank/"),
    ],
)  # fmt: skip
def test_scoring_and_base_urls(given: str, scoring: str, base: str) -> None:
    urls = endpoint_urls(given)
    assert (urls.scoring_url, urls.base_url) == (scoring, base)
    assert urls.url("swagger.json") == base + "swagger.json"


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        ("Zx9SECRETKEYvalue", "not a URL"),
        ("ftp://SECRET.example/score", "'ftp' URL"),
        ("http://", "http(s) URL with a host"),
        ("http://SECRET:99999/score", "malformed host or port"),
        ("http://[SECRET/score", "malformed host or port"),
        ("http://SECRET host/score", "spaces"),
    ],
)
def test_refusals_never_quote_the_value(given: str, shown: str) -> None:
    """A key pasted where the URI goes must not reach an error message (and so a log)."""
    with pytest.raises(ConfigurationError, match="http") as caught:
        endpoint_urls(given)
    assert shown in str(caught.value)
    assert "SECRET" not in str(caught.value)


def test_the_client_uses_the_shared_derivation() -> None:
    with ScoringClient("http://10.0.0.1:8890", "k", allow_insecure_http=True) as client:
        assert client.scoring_uri == "http://10.0.0.1:8890/score"
        assert client._core.base_url == "http://10.0.0.1:8890/"
    with pytest.raises(ConfigurationError, match="not a URL") as caught:
        ScoringClient("Zx9SECRETKEYvalue", "k")
    assert "SECRET" not in str(caught.value)


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        ("http://user:SECRET@10.0.0.1:8890/score?v=2", "http://********@10.0.0.1:8890/score?v=2"),
        ("https://SECRET@h.example/", "https://********@h.example/"),
        ("http://a:b@c:SECRET@h/score", "http://********@h/score"),
        ("http://h/score", "http://h/score"),
        ("http://h/path/with@sign", "http://h/path/with@sign"),
        ("/relative/score", "/relative/score"),
        ("user:SECRET@h/score", "(unparsable URL)"),
        ("http://[SECRET@h", "(unparsable URL)"),
    ],
)
def test_redact_url_hides_userinfo_only(given: str, shown: str) -> None:
    assert redact_url(given) == shown
