"""SSRF protection at connect time (contract §5.3).

The delivery client resolves each host through a guarded resolver that refuses any address that is
not public (loopback, private, link-local, multicast, reserved, unspecified, shared/CGNAT, cloud
metadata; IPv4 and IPv6, IPv4-mapped and 6to4/NAT64 forms unwrapped) and hands only vetted
addresses to the connector, which dials exactly those. The URL keeps the host name, so the `Host`
header, TLS SNI and certificate checks stay correct, and a DNS answer that changes between check
and connect (rebinding) can't slip through: the address that was checked is the address that is
dialled. A URL whose host is an IP literal never reaches a resolver, so `check_literal_host` vets
it before the request.

Operators may allow private targets (`HARKEN_WEBHOOK_ALLOW_PRIVATE=true`) or specific networks
(`HARKEN_WEBHOOK_ALLOWED_NETWORKS='["10.0.0.0/8"]'`). Cloud metadata addresses stay blocked unless
an allowed network names them explicitly.
"""

from __future__ import annotations

import functools
import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean
        "169.254.170.2",  # AWS ECS task metadata
        "169.254.169.123",  # AWS time sync
        "100.100.100.200",  # Alibaba Cloud
        "192.0.0.192",  # Oracle Cloud
        "fd00:ec2::254",  # AWS IMDS over IPv6
    )
)
# Not global but also not caught by the `is_*` flags on every Python version.
EXTRA_BLOCKED = tuple(
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8",
        "100.64.0.0/10",  # shared address space (CGNAT)
        "192.0.0.0/24",
        "198.18.0.0/15",  # benchmarking
        "240.0.0.0/4",
        "64:ff9b:1::/48",
    )
)


class BlockedAddressError(OSError):
    """The destination is, or resolves only to, addresses the SSRF policy refuses."""


@dataclass(frozen=True)
class AddressPolicy:
    allow_private: bool = False
    allowed_networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def from_settings(cls, allow_private: bool, networks: Iterable[str]) -> AddressPolicy:
        return cls(allow_private, tuple(ipaddress.ip_network(n, strict=False) for n in networks))

    def check(self, ip: IPAddress) -> str | None:
        """None if `ip` may be dialled, else the reason it is refused."""
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped  # ::ffff:a.b.c.d is judged as a.b.c.d
        candidates = [ip, *_embedded_ipv4(ip)]
        if any(c in net for c in candidates for net in self.allowed_networks if c.version == net.version):
            return None
        for candidate in candidates:
            reason = _blocked_reason(candidate)
            if reason is None:
                continue
            if reason == "cloud metadata" or not self.allow_private:
                return reason
        return None


def _embedded_ipv4(ip: IPAddress) -> list[ipaddress.IPv4Address]:
    if not isinstance(ip, ipaddress.IPv6Address):
        return []
    out: list[ipaddress.IPv4Address] = []
    if ip.ipv4_mapped is not None:
        out.append(ip.ipv4_mapped)
    if ip.sixtofour is not None:
        out.append(ip.sixtofour)
    if ip.teredo is not None:
        out.append(ip.teredo[1])
    if ip in ipaddress.ip_network("64:ff9b::/96"):  # NAT64 well-known prefix
        out.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    # IPv4-compatible (deprecated) ::a.b.c.d
    if int(ip) >> 32 == 0 and int(ip) > 1:
        out.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return out


def _blocked_reason(ip: IPAddress) -> str | None:
    if ip in METADATA_ADDRESSES:
        return "cloud metadata"
    checks = (
        ("unspecified", ip.is_unspecified),
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("private", ip.is_private),
        ("reserved", ip.is_reserved),
    )
    for name, hit in checks:
        if hit:
            return name
    if any(ip in net for net in EXTRA_BLOCKED if net.version == ip.version):
        return "reserved"
    if not ip.is_global:
        return "non-public"
    return None


def validate_url(url: str, *, https_only: bool) -> str | None:
    """None if `url` may be registered, else the reason (http(s), a host, https when required)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "URL is not valid"
    if parts.scheme not in {"http", "https"}:
        return "URL must use http or https"
    if not parts.hostname:
        return "URL must have a host"
    try:
        _ = parts.port
    except ValueError:
        return "URL has an invalid port"
    if https_only and parts.scheme != "https":
        return "URL must use https (HARKEN_WEBHOOK_HTTPS_ONLY is set)"
    if any(c.isspace() for c in url):
        return "URL must not contain whitespace"
    return None


def check_literal_host(url: str, policy: AddressPolicy) -> None:
    """Raise `BlockedAddressError` if `url`'s host is an IP literal the policy refuses."""
    refusal = _literal_host_refusal(url, policy)
    if refusal is not None:
        raise BlockedAddressError(refusal)


@functools.lru_cache(maxsize=4096)
def _literal_host_refusal(url: str, policy: AddressPolicy) -> str | None:
    # Cached: every attempt to an endpoint checks the same URL under the same policy.
    host = (urlsplit(url).hostname or "").strip("[]")
    try:
        literal = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return None  # a name: the guarded resolver checks what it resolves to
    reason = policy.check(literal)
    if reason is not None:
        return f"blocked by SSRF policy: {host} ({reason}) is not a public address"
    return None


class GuardedResolver(AbstractResolver):
    """Resolves with getaddrinfo and returns only the addresses the policy allows."""

    def __init__(self, policy: AddressPolicy) -> None:
        self.policy = policy
        self._inner = aiohttp.ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        allowed: list[ResolveResult] = []
        refused: list[str] = []
        for result in results:
            address = str(result["host"]).split("%", 1)[0]
            reason = self.policy.check(ipaddress.ip_address(address))
            if reason is None:
                allowed.append(result)
            elif f"{address} ({reason})" not in refused:
                refused.append(f"{address} ({reason})")
        if not allowed:
            raise BlockedAddressError(
                f"blocked by SSRF policy: {host} resolves only to non-public addresses: {', '.join(refused)}"
            )
        return allowed

    async def close(self) -> None:
        await self._inner.close()


def guarded_session(
    policy: AddressPolicy, *, timeout: float, max_connections: int = 200, user_agent: str = ""
) -> aiohttp.ClientSession:
    """A client session that dials only vetted addresses, ignores proxy env vars and cookies.

    Callers pass `allow_redirects=False` per request (aiohttp has no session-wide switch) and
    check IP-literal hosts with `check_literal_host`.
    """
    connector = aiohttp.TCPConnector(
        resolver=GuardedResolver(policy),
        limit=max_connections,
        keepalive_timeout=30.0,
        ttl_dns_cache=10,
    )
    return aiohttp.ClientSession(
        connector=connector,
        timeout=aiohttp.ClientTimeout(total=timeout),
        trust_env=False,
        cookie_jar=aiohttp.DummyCookieJar(),
        headers={"User-Agent": user_agent} if user_agent else None,
        skip_auto_headers=() if user_agent else ("User-Agent",),
    )


def blocked_error(exc: BaseException) -> BaseException | None:
    """The SSRF refusal behind `exc` (it may be wrapped by the client), or None."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, BlockedAddressError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def is_blocked_error(exc: BaseException) -> bool:
    return blocked_error(exc) is not None
