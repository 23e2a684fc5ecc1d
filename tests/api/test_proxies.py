"""Whose address a request has: forwarding headers count only from trusted proxies, read
from the right; and every uvicorn server nuanxin starts leaves proxy headers to us."""

import re
from ipaddress import ip_network
from pathlib import Path

import pytest

from api.proxies import caller, forwarded, x_forwarded_for
from api.serving import server_config
from core.errors import ConfigError
from core.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]
TRUSTED = [ip_network("10.0.0.0/8"), ip_network("2001:db8:ffff::/48")]


@pytest.mark.parametrize(
    ("peer", "header", "expected"),
    [
        # not a trusted proxy: whatever it says, it is the caller
        ("192.0.2.1", "198.51.100.1", "192.0.2.1"),
        ("127.0.0.1", "198.51.100.1", "127.0.0.1"),
        # a trusted proxy: the nearest entry that is not a proxy, spoofed entries ignored
        ("10.0.0.5", "198.51.100.1", "198.51.100.1"),
        ("10.0.0.5", "203.0.113.66, 198.51.100.1", "198.51.100.1"),
        ("10.0.0.5", "198.51.100.1, 10.0.0.9", "198.51.100.1"),
        ("10.0.0.5", "198.51.100.1:4711", "198.51.100.1"),
        ("10.0.0.5", "[2001:db8::1]:4711", "2001:db8::1"),
        ("2001:db8:ffff::1", "2001:db8::7", "2001:db8::7"),
        # what the proxy wrote is not an address: every caller shares the proxy's count
        ("10.0.0.5", "198.51.100.1, unknown", "10.0.0.5"),
        ("10.0.0.5", "garbage", "10.0.0.5"),
        # no header, or only proxies in it
        ("10.0.0.5", "", "10.0.0.5"),
        ("10.0.0.5", "10.0.0.7, 10.0.0.9", "10.0.0.7"),
    ],
)
def test_the_caller_is_the_nearest_address_that_is_not_a_trusted_proxy(
    peer: str, header: str, expected: str
) -> None:
    hops = x_forwarded_for([header]) if header else []
    assert caller(peer, hops, TRUSTED) == expected


def test_with_no_trusted_proxy_headers_are_never_read() -> None:
    assert caller("127.0.0.1", ["198.51.100.1"], []) == "127.0.0.1"


def test_forwarded_elements_give_their_for_in_order() -> None:
    values = ['for=192.0.2.60;proto=http;by=203.0.113.43, For="[2001:db8:cafe::17]:4711"', "by=x"]
    assert forwarded(values) == ["192.0.2.60", "[2001:db8:cafe::17]:4711", ""]
    assert caller("10.0.0.5", forwarded(values[:1]), TRUSTED) == "2001:db8:cafe::17"


def test_trusted_proxies_setting_takes_addresses_and_cidrs_and_names_a_bad_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NUANXIN_TRUSTED_PROXIES", "10.0.0.0/8, 192.0.2.7,::1")
    assert [str(n) for n in load_settings().trusted_proxies] == [
        "10.0.0.0/8",
        "192.0.2.7/32",
        "::1/128",
    ]
    monkeypatch.setenv("NUANXIN_TRUSTED_PROXIES", "10.0.0.1/8")
    with pytest.raises(ConfigError, match="NUANXIN_TRUSTED_PROXIES"):
        load_settings()
    monkeypatch.delenv("NUANXIN_TRUSTED_PROXIES")
    assert load_settings().trusted_proxies == []


def test_every_uvicorn_server_is_built_by_server_config_which_ignores_proxy_headers() -> None:
    """uvicorn believes X-Forwarded-For from 127.0.0.1 unless told otherwise: a server
    made anywhere but api.serving (the commands, the tests' server) would do that."""
    config = server_config(lambda *_: None, host="127.0.0.1", port=1, proxy_headers=True)
    assert config.proxy_headers is False and config.log_config is None
    direct = re.compile(r"\buvicorn\.(run|Config)\(|\bfrom uvicorn import .*\b(run|Config)\b")
    offenders = [
        str(path.relative_to(ROOT))
        for folder in ("api", "cli", "core", "alerting", "ingest", "simulators", "tests/support")
        for path in (ROOT / folder).rglob("*.py")
        if path != ROOT / "api" / "serving.py" and direct.search(path.read_text())
    ]
    assert offenders == []
