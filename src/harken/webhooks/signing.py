"""Signing outgoing deliveries and verifying them on the receiving side (contract §5.3).

Two schemes are sent on every delivery:

- Ontora: `X-Ontora-Signature: sha256=<hex>`, HMAC-SHA256 over the exact body bytes, keyed with the
  whole secret string (UTF-8, `whsec_` prefix included). Signs the body only (no replay protection).
- Standard Webhooks: `webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64>`, HMAC-SHA256
  over `{id}.{timestamp}.{body}` keyed with the base64-decoded part of the secret after `whsec_`.

`verify(body, headers, secret)` is the receiver helper: it checks the Standard Webhooks signature
and timestamp when those headers are present, else the Ontora signature.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hmac
import json
import secrets
import time
from collections.abc import Iterable, Mapping
from typing import Any

from harken import __version__

SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret
USER_AGENT = f"Harken-Webhooks/{__version__}"
DEFAULT_TOLERANCE = 300


class WebhookVerificationError(ValueError):
    """The signature, or the timestamp, of a received webhook is not valid."""


def generate_secret() -> str:
    """`whsec_` + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def _as_bytes(body: bytes | str) -> bytes:
    return body.encode("utf-8") if isinstance(body, str) else bytes(body)


@functools.lru_cache(maxsize=4096)
def secret_key_bytes(secret: str) -> bytes:
    """The HMAC key of the Standard Webhooks scheme: base64-decoded secret (prefix removed).
    Cached: every attempt of every delivery signs with one of a few secrets."""
    raw = secret[len(SECRET_PREFIX) :] if secret.startswith(SECRET_PREFIX) else secret
    padded = raw + "=" * (-len(raw) % 4)
    try:
        return base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise WebhookVerificationError("secret is not valid base64") from exc


def sign_ontora(body: bytes | str, secret: str) -> str:
    """`sha256=<hex>` over the body, keyed with the whole secret string."""
    # hmac.digest(): one-shot, in OpenSSL; no HMAC object per signature
    return "sha256=" + hmac.digest(secret.encode("utf-8"), _as_bytes(body), "sha256").hex()


def sign_standard(msg_id: str, timestamp: int, body: bytes | str, secret: str) -> str:
    """`v1,<base64>` over `{id}.{timestamp}.{body}`, keyed with the decoded secret."""
    content = f"{msg_id}.{timestamp}.".encode() + _as_bytes(body)
    digest = hmac.digest(secret_key_bytes(secret), content, "sha256")
    return "v1," + base64.b64encode(digest).decode("ascii")


def delivery_headers(
    *,
    delivery_id: str,
    event_type: str,
    body: bytes,
    secrets_: list[str],
    timestamp: int | None = None,
    custom: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Every header of one attempt. `secrets_[0]` is the current secret, `[1]` the previous one
    during a rotation overlap."""
    ts = int(time.time()) if timestamp is None else timestamp
    headers: dict[str, str] = dict(custom or {})
    headers.update(
        {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "X-Ontora-Event": event_type,
            "X-Ontora-Delivery-Id": delivery_id,
            "X-Ontora-Signature": sign_ontora(body, secrets_[0]),
            "webhook-id": delivery_id,
            "webhook-timestamp": str(ts),
            "webhook-signature": " ".join(sign_standard(delivery_id, ts, body, s) for s in secrets_),
        }
    )
    if len(secrets_) > 1:
        headers["X-Ontora-Signature-Previous"] = sign_ontora(body, secrets_[1])
    return headers


# -- receiver side -------------------------------------------------------------------------------


def _lower(headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> dict[str, str]:
    items = headers.items() if isinstance(headers, Mapping) else headers
    return {str(k).lower(): str(v) for k, v in items}


def verify(
    body: bytes | str,
    headers: Mapping[str, str] | Iterable[tuple[str, str]],
    secret: str,
    tolerance: int = DEFAULT_TOLERANCE,
    *,
    now: float | None = None,
) -> dict[str, Any]:
    """Verify a received Harken webhook and return the parsed envelope.

    `body` must be the raw request body (not re-serialized JSON). With the Standard Webhooks headers
    present, checks `webhook-signature` (any of its `v1` entries) and that `webhook-timestamp` is
    within `tolerance` seconds of now; otherwise checks `X-Ontora-Signature` (or
    `X-Ontora-Signature-Previous`), and the timestamp too if a `webhook-timestamp` header is sent.
    Raises `WebhookVerificationError` on any mismatch.
    """
    raw = _as_bytes(body)
    h = _lower(headers)
    current = time.time() if now is None else now
    timestamp = h.get("webhook-timestamp")
    if timestamp is not None:
        try:
            ts = int(timestamp)
        except ValueError as exc:
            raise WebhookVerificationError("invalid webhook-timestamp header") from exc
        if ts < current - tolerance:
            raise WebhookVerificationError("message timestamp too old")
        if ts > current + tolerance:
            raise WebhookVerificationError("message timestamp too new")
    if "webhook-signature" in h:
        msg_id = h.get("webhook-id")
        if not msg_id or timestamp is None:
            raise WebhookVerificationError("missing webhook-id or webhook-timestamp header")
        expected = sign_standard(msg_id, int(timestamp), raw, secret).split(",", 1)[1]
        for candidate in h["webhook-signature"].split(" "):
            version, _, signature = candidate.partition(",")
            if version == "v1" and hmac.compare_digest(signature.encode(), expected.encode()):
                return _parse(raw)
        raise WebhookVerificationError("no matching signature in webhook-signature")
    sent = [h[name] for name in ("x-ontora-signature", "x-ontora-signature-previous") if name in h]
    if not sent:
        raise WebhookVerificationError("no signature header (webhook-signature or X-Ontora-Signature)")
    keys = [secret] if secret.startswith(SECRET_PREFIX) else [secret, SECRET_PREFIX + secret]
    for key in keys:
        expected_ontora = sign_ontora(raw, key)
        if any(hmac.compare_digest(value.strip().encode(), expected_ontora.encode()) for value in sent):
            return _parse(raw)
    raise WebhookVerificationError("X-Ontora-Signature does not match")


def _parse(raw: bytes) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise WebhookVerificationError("body is not JSON") from exc
    if not isinstance(value, dict):
        raise WebhookVerificationError("body is not a JSON object")
    return value
