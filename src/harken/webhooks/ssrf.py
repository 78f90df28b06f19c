"""SSRF protection at connect time (contract §5.3).

The HTTP client resolves each host itself, refuses any address that is not public (loopback,
private, link-local, multicast, reserved, unspecified, shared/CGNAT, cloud metadata; IPv4 and IPv6,
IPv4-mapped and 6to4/NAT64 forms unwrapped) and connects to the vetted address. The URL keeps the
host name, so the `Host` header, TLS SNI and certificate checks stay correct, and a DNS answer that
changes between check and connect (rebinding) can't slip through: the address that was checked is
the address that is dialled.

Operators may allow private targets (`HARKEN_WEBHOOK_ALLOW_PRIVATE=true`) or specific networks
(`HARKEN_WEBHOOK_ALLOWED_NETWORKS='["10.0.0.0/8"]'`). Cloud metadata addresses stay blocked unless
an allowed network names them explicitly.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx

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


class BlockedAddressError(httpcore.ConnectError):
    """The destination resolved only to addresses the SSRF policy refuses."""


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


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """A network backend that dials only addresses the policy allows."""

    def __init__(self, policy: AddressPolicy) -> None:
        from httpcore._backends.auto import AutoBackend

        self.policy = policy
        self._inner = AutoBackend()

    async def resolve(self, host: str, port: int) -> list[str]:
        host = host.strip("[]")
        try:
            literal = ipaddress.ip_address(host)
        except ValueError:
            literal = None
        if literal is not None:
            infos = [str(literal)]
        else:
            loop = asyncio.get_running_loop()
            try:
                results = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            except socket.gaierror as exc:
                raise httpcore.ConnectError(f"DNS resolution failed for {host}: {exc}") from exc
            infos = []
            for *_, sockaddr in results:
                address = str(sockaddr[0]).split("%", 1)[0]
                if address not in infos:
                    infos.append(address)
        allowed: list[str] = []
        refused: list[str] = []
        for address in infos:
            reason = self.policy.check(ipaddress.ip_address(address))
            if reason is None:
                allowed.append(address)
            else:
                refused.append(f"{address} ({reason})")
        if not allowed:
            raise BlockedAddressError(
                f"blocked by SSRF policy: {host} resolves only to non-public addresses: {', '.join(refused)}"
            )
        return allowed

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.AsyncNetworkStream:
        last: Exception | None = None
        for address in await self.resolve(host, port):
            try:
                return await self._inner.connect_tcp(
                    address, port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        assert last is not None
        raise last

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        socket_options: Any = None,
    ) -> Any:
        raise httpcore.ConnectError("unix sockets are not allowed for webhooks")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def guarded_client(
    policy: AddressPolicy, *, timeout: float, max_connections: int = 200, user_agent: str = ""
) -> httpx.AsyncClient:
    """An AsyncClient that never follows redirects, ignores proxy env vars and dials only vetted IPs."""
    transport = httpx.AsyncHTTPTransport(trust_env=False)
    ssl_context = httpx.create_ssl_context(trust_env=False)
    transport._pool = httpcore.AsyncConnectionPool(  # swap in the guarded backend
        ssl_context=ssl_context,
        max_connections=max_connections,
        max_keepalive_connections=max_connections,
        keepalive_expiry=30.0,
        network_backend=GuardedBackend(policy),
    )
    return httpx.AsyncClient(
        transport=transport,
        follow_redirects=False,
        trust_env=False,
        timeout=httpx.Timeout(timeout),
        headers={"User-Agent": user_agent} if user_agent else None,
    )


def is_blocked_error(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, BlockedAddressError) or "blocked by SSRF policy" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
