"""SSRF policy: which addresses may be dialled, URL rules at registration, and the guarded client
refusing at connect time (a real connection attempt to a real local server)."""

from __future__ import annotations

import ipaddress

import aiohttp
import pytest

from harken.webhooks.ssrf import (
    AddressPolicy,
    BlockedAddressError,
    blocked_error,
    check_literal_host,
    guarded_session,
    is_blocked_error,
    validate_url,
)
from tests.webhooks.receiver import Receiver

BLOCKED = [
    "127.0.0.1",
    "127.5.6.7",
    "10.1.2.3",
    "172.16.0.1",
    "192.168.1.1",
    "169.254.169.254",
    "169.254.1.1",
    "100.64.0.1",
    "100.100.100.200",
    "0.0.0.0",  # noqa: S104 - an address under test, not a bind
    "224.0.0.1",
    "239.255.255.250",
    "240.0.0.1",
    "255.255.255.255",
    "198.18.0.1",
    "::1",
    "::",
    "fe80::1",
    "fc00::1",
    "fd00:ec2::254",
    "ff02::1",
    "::ffff:127.0.0.1",
    "::ffff:10.0.0.1",
    "::ffff:169.254.169.254",
    "64:ff9b::7f00:1",
    "2002:7f00:1::",
    "::127.0.0.1",
]
PUBLIC = ["93.184.216.34", "8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8"]


@pytest.mark.parametrize("address", BLOCKED)
def test_non_public_addresses_are_refused(address: str) -> None:
    assert AddressPolicy().check(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_allowed(address: str) -> None:
    assert AddressPolicy().check(ipaddress.ip_address(address)) is None


def test_operator_overrides() -> None:
    allow_private = AddressPolicy(allow_private=True)
    assert allow_private.check(ipaddress.ip_address("10.0.0.1")) is None
    assert allow_private.check(ipaddress.ip_address("127.0.0.1")) is None
    # metadata stays blocked unless a network names it explicitly
    assert allow_private.check(ipaddress.ip_address("169.254.169.254")) == "cloud metadata"
    listed = AddressPolicy.from_settings(False, ["10.20.0.0/16", "169.254.169.254/32"])
    assert listed.check(ipaddress.ip_address("10.20.3.4")) is None
    assert listed.check(ipaddress.ip_address("10.21.3.4")) is not None
    assert listed.check(ipaddress.ip_address("169.254.169.254")) is None
    assert listed.check(ipaddress.ip_address("::ffff:10.20.3.4")) is None


@pytest.mark.parametrize(
    ("url", "https_only", "problem"),
    [
        ("https://hooks.example.com/x", True, None),
        ("http://hooks.example.com/x", False, None),
        ("http://hooks.example.com/x", True, "must use https"),
        ("ftp://hooks.example.com/x", False, "http or https"),
        ("https:///nohost", False, "must have a host"),
        ("hooks.example.com/x", False, "http or https"),
        ("https://hooks.example.com:99999/x", False, "invalid port"),
    ],
)
def test_registration_url_rules(url: str, https_only: bool, problem: str | None) -> None:
    result = validate_url(url, https_only=https_only)
    if problem is None:
        assert result is None
    else:
        assert result is not None and problem in result


async def test_guarded_session_refuses_loopback_at_connect_time() -> None:
    receiver = Receiver().start()
    try:
        async with guarded_session(AddressPolicy(), timeout=2) as session:
            # a name: refused by the resolver, before any connection is made
            with pytest.raises(aiohttp.ClientConnectorError) as info:
                await session.post(f"http://localhost:{receiver.port}/hook", data=b"{}")
            assert is_blocked_error(info.value)
            assert "blocked by SSRF policy" in str(blocked_error(info.value))
        # an IP literal never reaches a resolver: the pre-flight check refuses it
        with pytest.raises(BlockedAddressError, match="loopback"):
            check_literal_host(receiver.url(), AddressPolicy())
        check_literal_host("http://93.184.216.34/hook", AddressPolicy())  # public: allowed
        assert receiver.received() == []  # nothing ever reached the server
        allow_loopback = AddressPolicy.from_settings(False, ["127.0.0.0/8"])
        check_literal_host(receiver.url(), allow_loopback)
        async with (
            guarded_session(allow_loopback, timeout=2) as session,
            session.post(f"http://localhost:{receiver.port}/hook", data=b"{}") as response,
        ):
            assert response.status == 200
        assert receiver.received()[0].headers["host"] == f"localhost:{receiver.port}"  # Host header kept
    finally:
        receiver.stop()
