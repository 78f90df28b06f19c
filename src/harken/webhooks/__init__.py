"""Signed webhooks: the event catalog, endpoints, the delivery engine and a receiver helper.

Receivers verify a delivery with `harken.webhooks.verify(body, headers, secret)`.
"""

from harken.webhooks.signing import WebhookVerificationError, verify

__all__ = ["WebhookVerificationError", "verify"]
