"""Signing and the receiver helper: fixed test vectors (the ones in docs/webhooks.md), a cross-check
with the `standardwebhooks` package in both directions, rotation, tampering and timestamps."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest
import standardwebhooks

import harken.webhooks
from harken.webhooks.signing import (
    WebhookVerificationError,
    delivery_headers,
    generate_secret,
    sign_ontora,
    sign_standard,
    verify,
)

# Test vectors, also published in docs/webhooks.md.
SECRET = "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="  # base64 of bytes 0..31
OLD_SECRET = "whsec_ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8="  # base64 of bytes 32..63
MSG_ID = "5f0e2c1d-7a3b-4c8d-9e0f-112233445566"
TIMESTAMP = 1777055400
BODY = (
    b'{"event":"webhook.test","workspace_id":"8d0f5a52-2f4c-4a8e-9d57-0c1f3b8e6a11","timestamp":"2026-04-24T18:30:00Z",'
    b'"data":{"endpoint_id":"0b6c7c3e-5d7e-4f0a-b1a2-9c3d4e5f6a7b","message":"This is a test delivery from Harken."}}'
)
ONTORA_SIG = "sha256=d1e82a7fe45bad398f3a4579b3d450385e6a8a98b71f52389055483e50d3c2ee"
STANDARD_SIG = "v1,nPK1bfdwJVMp1Tczuznr6VBYHdmqrWbMZL4H/KeM4ek="
OLD_ONTORA_SIG = "sha256=d1026b08586a45563d8ca89b00f24015b679962994a090d3b48b08d199336f74"
OLD_STANDARD_SIG = "v1,7bY2ULUEbuGxxyo2U+ijEmQ+ro6rSlvULk/9hYD3CxE="


def test_fixed_vectors() -> None:
    assert sign_ontora(BODY, SECRET) == ONTORA_SIG
    assert sign_standard(MSG_ID, TIMESTAMP, BODY, SECRET) == STANDARD_SIG
    assert sign_ontora(BODY, OLD_SECRET) == OLD_ONTORA_SIG
    assert sign_standard(MSG_ID, TIMESTAMP, BODY, OLD_SECRET) == OLD_STANDARD_SIG


def test_generated_secrets_are_whsec_base64_of_32_bytes() -> None:
    secrets = {generate_secret() for _ in range(20)}
    assert len(secrets) == 20
    for secret in secrets:
        assert secret.startswith("whsec_")
        assert len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) == 32


def test_standardwebhooks_package_signs_identically_and_accepts_our_headers() -> None:
    when = datetime.fromtimestamp(TIMESTAMP, tz=UTC)
    assert standardwebhooks.Webhook(SECRET).sign(MSG_ID, when, BODY.decode()) == STANDARD_SIG
    secret = generate_secret()
    headers = delivery_headers(delivery_id=MSG_ID, event_type="webhook.test", body=BODY, secrets_=[secret])
    assert standardwebhooks.Webhook(secret).verify(BODY, headers)["event"] == "webhook.test"
    # and the other way round: a signature made by the package passes our verify()
    now = datetime.now(UTC)
    theirs = standardwebhooks.Webhook(secret).sign(MSG_ID, now, BODY.decode())
    ours = {"webhook-id": MSG_ID, "webhook-timestamp": str(int(now.timestamp())), "webhook-signature": theirs}
    assert verify(BODY, ours, secret)["data"]["message"].startswith("This is a test")


def test_headers_of_an_attempt() -> None:
    headers = delivery_headers(
        delivery_id=MSG_ID,
        event_type="webhook.test",
        body=BODY,
        secrets_=[SECRET],
        timestamp=TIMESTAMP,
        custom={"X-Team": "ops", "Content-Type": "text/plain"},
    )
    assert headers["Content-Type"] == "application/json"
    assert headers["User-Agent"].startswith("Harken-Webhooks/")
    assert headers["X-Ontora-Event"] == "webhook.test"
    assert headers["X-Ontora-Delivery-Id"] == headers["webhook-id"] == MSG_ID
    assert headers["X-Ontora-Signature"] == ONTORA_SIG
    assert headers["webhook-timestamp"] == str(TIMESTAMP)
    assert headers["webhook-signature"] == STANDARD_SIG
    assert headers["X-Team"] == "ops"
    assert "X-Ontora-Signature-Previous" not in headers


def test_rotation_overlap_signs_with_both_secrets() -> None:
    headers = delivery_headers(
        delivery_id=MSG_ID, event_type="webhook.test", body=BODY, secrets_=[SECRET, OLD_SECRET], timestamp=TIMESTAMP
    )
    assert headers["webhook-signature"] == f"{STANDARD_SIG} {OLD_STANDARD_SIG}"
    assert headers["X-Ontora-Signature"] == ONTORA_SIG
    assert headers["X-Ontora-Signature-Previous"] == OLD_ONTORA_SIG
    now = TIMESTAMP + 10
    assert verify(BODY, headers, SECRET, now=now)
    assert verify(BODY, headers, OLD_SECRET, now=now)  # receivers not yet updated keep working
    ontora_only = {"X-Ontora-Signature": ONTORA_SIG, "X-Ontora-Signature-Previous": OLD_ONTORA_SIG}
    assert verify(BODY, ontora_only, OLD_SECRET)
    with pytest.raises(WebhookVerificationError):
        verify(BODY, ontora_only, generate_secret())


def test_verify_is_exported_from_the_package() -> None:
    assert harken.webhooks.verify is verify
    headers = {"webhook-id": MSG_ID, "webhook-timestamp": str(TIMESTAMP), "webhook-signature": STANDARD_SIG}
    assert harken.webhooks.verify(BODY, headers, SECRET, now=TIMESTAMP)["event"] == "webhook.test"


def test_verify_rejects_tampering_wrong_secret_and_stale_timestamps() -> None:
    headers = {"Webhook-Id": MSG_ID, "Webhook-Timestamp": str(TIMESTAMP), "Webhook-Signature": STANDARD_SIG}
    assert verify(BODY, headers, SECRET, now=TIMESTAMP + 299)  # header names are case-insensitive
    with pytest.raises(WebhookVerificationError, match="too old"):
        verify(BODY, headers, SECRET, now=TIMESTAMP + 301)
    with pytest.raises(WebhookVerificationError, match="too new"):
        verify(BODY, headers, SECRET, now=TIMESTAMP - 301)
    assert verify(BODY, headers, SECRET, tolerance=3600, now=TIMESTAMP + 3000)
    with pytest.raises(WebhookVerificationError, match="no matching signature"):
        verify(BODY.replace(b"test delivery", b"TEST delivery"), headers, SECRET, now=TIMESTAMP)
    with pytest.raises(WebhookVerificationError, match="no matching signature"):
        verify(BODY, headers, generate_secret(), now=TIMESTAMP)
    with pytest.raises(WebhookVerificationError, match="no matching signature"):
        verify(BODY, {**headers, "Webhook-Id": "another-id"}, SECRET, now=TIMESTAMP)
    # a replayed message with a fresh (unsigned) timestamp fails: the timestamp is signed
    with pytest.raises(WebhookVerificationError):
        verify(BODY, {**headers, "Webhook-Timestamp": str(TIMESTAMP + 1000)}, SECRET, now=TIMESTAMP + 1000)
    with pytest.raises(WebhookVerificationError, match="no signature header"):
        verify(BODY, {}, SECRET)
    with pytest.raises(WebhookVerificationError, match="does not match"):
        verify(BODY, {"X-Ontora-Signature": "sha256=" + "0" * 64}, SECRET)


def test_ontora_scheme_alone_verifies_with_the_whole_secret_string() -> None:
    assert verify(BODY, {"X-Ontora-Signature": ONTORA_SIG}, SECRET)["event"] == "webhook.test"
    # a secret given without its prefix still works
    assert verify(BODY, {"X-Ontora-Signature": ONTORA_SIG}, SECRET.removeprefix("whsec_"))
    # with a webhook-timestamp header present, the tolerance applies too
    with pytest.raises(WebhookVerificationError, match="too old"):
        verify(BODY, {"X-Ontora-Signature": ONTORA_SIG, "webhook-timestamp": "1000"}, SECRET)
