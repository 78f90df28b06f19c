"""Campaign events end to end: a webhook endpoint registered through the public API, a real HTTP
receiver on 127.0.0.1 and a real worker sending the deliveries, while a campaign is driven through
the API (create with topics, contacts, start, pause, resume, reschedule, skip, transcript imports,
complete, and completion by itself).

Each received request is checked as an integrator would: signatures (both schemes) with the secret
the API returned, the contract's headers and envelope, and `data` with exactly the keys of the
seed's example (contract §5.1, seed 000) and the values the API reports for the same campaign.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import standardwebhooks
from httpx import AsyncClient

from harken.core.jobs import Worker
from harken.core.settings import Settings
from harken.webhooks import WebhookVerificationError, verify
from harken.webhooks.events import DELIVER_JOB
from tests.campaigns.conftest import Api
from tests.helpers import Tenant, wait_for
from tests.webhooks.conftest import FAST_SCHEDULE, create_endpoint, deliveries_of, running_worker
from tests.webhooks.receiver import Received, Receiver
from tests.webhooks.test_catalog import EXAMPLES, shape

CAMPAIGN_EVENTS = ["campaign.started", "campaign.paused", "campaign.completed"]
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")  # whole seconds, UTC
STANDARD_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")

PEOPLE = [
    {"name": "Sam Rivera", "email": "sam@example.com", "department": "Ops", "job_title": "Technician"},
    {"name": "Ana Ruiz", "email": "ana@example.com", "department": "Finance", "job_title": "Analyst"},
    {"name": "Kai Moreau", "department": "Ops"},  # no email: `contact.email` is null in the events
]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Loopback receivers allowed (as an operator would with HARKEN_WEBHOOK_ALLOWED_NETWORKS)."""
    return settings.model_copy(
        update={
            "webhook_allowed_networks": ["127.0.0.0/8"],
            "webhook_retry_schedule": FAST_SCHEDULE,
            "webhook_timeout_seconds": 2.0,
        }
    )


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver().start()
    yield server
    server.stop()


@pytest.fixture
async def delivery_worker(app: Any, settings: Settings) -> AsyncIterator[Worker]:
    """A real worker that only sends webhook deliveries (invitations, the knowledge pipeline and
    synthesis stay queued: they are not what these tests observe)."""
    async with running_worker(app, settings, kinds=[DELIVER_JOB]) as worker:
        yield worker


class Hooks:
    """One registered endpoint and what its receiver got."""

    def __init__(self, client: AsyncClient, tenant: Tenant, receiver: Receiver, endpoint: dict[str, Any]) -> None:
        self.client = client
        self.tenant = tenant
        self.receiver = receiver
        self.endpoint = endpoint
        self.path = endpoint["url"].split(str(receiver.port), 1)[1]

    @classmethod
    async def register(cls, client: AsyncClient, tenant: Tenant, receiver: Receiver, path: str, **fields: Any) -> Hooks:
        endpoint = await create_endpoint(client, tenant, receiver.url(path), **fields)
        assert endpoint["secret"].startswith("whsec_")
        return cls(client, tenant, receiver, endpoint)

    def received(self) -> list[Received]:
        return self.receiver.received(self.path)

    async def settled(self, expected: int, timeout: float = 20.0) -> list[Received]:
        """Wait (bounded) until `expected` deliveries exist for the endpoint and all are delivered,
        then return what the receiver got, in arrival order."""

        async def done() -> bool:
            rows = await deliveries_of(self.client, self.tenant, self.endpoint["id"])
            return len(rows) >= expected and all(r["status"] == "delivered" for r in rows)

        await wait_for(done, timeout=timeout)
        rows = await deliveries_of(self.client, self.tenant, self.endpoint["id"])
        assert len(rows) == expected, [r["event_type"] for r in rows]
        got = self.received()
        # exactly one request per delivery, under the delivery's id
        assert sorted(r.delivery_id for r in got) == sorted(r["id"] for r in rows)
        assert all(r["attempts"] == 1 and r["response_status"] == 200 for r in rows)
        return got

    def check(self, request: Received) -> dict[str, Any]:
        """Verify one request like a receiver would; returns the envelope."""
        secret = self.endpoint["secret"]
        envelope = verify(request.body, request.headers, secret)  # Standard Webhooks scheme
        assert standardwebhooks.Webhook(secret).verify(request.body, request.headers) == envelope
        ontora_only = {k: v for k, v in request.headers.items() if k not in STANDARD_HEADERS}
        assert verify(request.body, ontora_only, secret) == envelope  # X-Ontora-Signature scheme
        with pytest.raises(WebhookVerificationError):
            verify(request.body, request.headers, "whsec_" + "A" * 43 + "=")
        with pytest.raises(WebhookVerificationError):
            verify(request.body.replace(b'"data":{', b'"data":{"x":1,'), request.headers, secret)

        h = request.headers
        assert request.body.decode() == json.dumps(envelope, separators=(",", ":"))  # compact JSON
        assert list(envelope) == ["event", "workspace_id", "timestamp", "data"]
        assert list(envelope) == list(EXAMPLES[envelope["event"]])
        assert envelope["workspace_id"] == self.tenant.workspace_id
        assert TIMESTAMP.match(envelope["timestamp"]), envelope["timestamp"]
        sent_at = datetime.fromisoformat(envelope["timestamp"])
        assert abs((datetime.now(UTC) - sent_at).total_seconds()) < 120
        assert h["content-type"] == "application/json"
        assert h["user-agent"].startswith("Harken-Webhooks/")
        assert h["x-ontora-event"] == envelope["event"]
        assert h["x-ontora-delivery-id"] == h["webhook-id"] == request.delivery_id
        assert re.fullmatch(r"sha256=[0-9a-f]{64}", h["x-ontora-signature"])
        assert abs(int(h["webhook-timestamp"]) - time.time()) < 120

        assert_seed_shape(envelope["data"], EXAMPLES[envelope["event"]]["data"], envelope["event"])
        return envelope


def assert_seed_shape(value: Any, seed: Any, where: str) -> None:
    """The seed's keys exactly (same order, nested too) and its JSON types; null matches anything
    (nullable fields such as `contact.email`)."""
    if value is None or seed is None:
        return
    if isinstance(seed, dict):
        assert isinstance(value, dict) and list(value) == list(seed), (where, value)
        for key in seed:
            assert_seed_shape(value[key], seed[key], f"{where}.{key}")
        return
    assert shape(value) == shape(seed), (where, value)


async def _ids(api: Api, iid: str) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """The campaign's contacts by email-or-name, and each contact's latest conversation id."""
    contacts = (await api.get(f"/v1/interviews/{iid}/contacts")).json()
    listing = (await api.get(f"/v1/interviews/{iid}/conversations", params={"limit": 500})).json()
    conversations = {row["contact_id"]: row["id"] for row in listing["items"]}
    return {c["email"] or c["name"]: c for c in contacts}, conversations


def _scheduled(contact: dict[str, Any], iid: str, conversation_id: str) -> dict[str, Any]:
    return {
        "interview_id": iid,
        "conversation_id": conversation_id,
        "contact": {"name": contact["name"], "email": contact["email"]},
        "scheduled_for": contact["scheduled_at"],
    }


async def _import(api: Api, iid: str, contact_id: str, minutes: int) -> dict[str, Any]:
    turns = [
        {"speaker": "agent", "text": "How do requests reach you?"},
        {"speaker": "participant", "text": "Mostly by email, and the queue gets lost."},
    ]
    body = {
        "contact_id": contact_id,
        "started_at": "2026-04-24T09:00:00Z",
        "ended_at": f"2026-04-24T09:{minutes:02d}:00Z",
        "turns": turns,
    }
    response = await api.post(f"/v1/interviews/{iid}/conversations/import", json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def test_campaign_lifecycle_events_reach_a_real_receiver(
    api: Api, client: AsyncClient, tenant: Tenant, receiver: Receiver, delivery_worker: Worker
) -> None:
    # An ordered endpoint subscribed to everything (FIFO: arrival order is event order), and one
    # subscribed to the campaign events only.
    everything = await Hooks.register(client, tenant, receiver, "/all", ordered=True)
    lifecycle = await Hooks.register(client, tenant, receiver, "/campaign", events=CAMPAIGN_EVENTS)

    topics = [
        {"name": "Work intake", "goal": "How requests arrive", "questions": [{"text": "Walk me through one."}]},
        {"name": "Tools", "priority": "optional"},
    ]
    campaign = await api.create(name="Q2 facility-ops interviews", topics=topics)
    iid = campaign["id"]
    question_sets = (await api.get(f"/v1/interviews/{iid}/question-sets")).json()
    assert [s["name"] for s in question_sets] == ["Work intake", "Tools"]
    response = await api.post(f"/v1/interviews/{iid}/contacts/bulk", json={"contacts": PEOPLE})
    assert response.status_code == 200 and response.json()["count"] == 3
    assert receiver.received() == []  # creating a campaign and its contacts fires nothing

    started = await api.post(f"/v1/interviews/{iid}/start")
    assert started.status_code == 200 and started.json()["scheduled_count"] == 3
    got = await everything.settled(4)
    contacts, conversations = await _ids(api, iid)
    envelopes = [everything.check(r) for r in got]
    assert [e["event"] for e in envelopes] == ["campaign.started"] + ["interview.scheduled"] * 3
    assert envelopes[0]["data"] == {"interview_id": iid, "name": "Q2 facility-ops interviews", "contact_count": 3}
    expected = [_scheduled(c, iid, conversations[c["id"]]) for c in contacts.values()]
    assert sorted((e["data"] for e in envelopes[1:]), key=str) == sorted(expected, key=str)
    assert {e["data"]["contact"]["email"] for e in envelopes[1:]} == {"sam@example.com", "ana@example.com", None}
    assert all(e["data"]["scheduled_for"].endswith("Z") for e in envelopes[1:])

    # Pause (no body: the reason is user_paused); a contact added while paused is invited on resume.
    assert (await api.post(f"/v1/interviews/{iid}/pause")).json()["status"] == "paused"
    late = {"name": "Lee Park", "email": "lee@example.com"}
    added = await api.post(f"/v1/interviews/{iid}/contacts", json=late)
    assert added.status_code == 201 and added.json()["status"] == "pending"
    got = await everything.settled(5)
    paused = everything.check(got[4])
    assert paused["event"] == "campaign.paused"
    assert paused["data"] == {"interview_id": iid, "reason": "user_paused"}

    assert (await api.post(f"/v1/interviews/{iid}/resume")).json()["status"] == "active"
    got = await everything.settled(6)  # resume has no event of its own; the late contact's invitation
    contacts, conversations = await _ids(api, iid)
    lee = contacts["lee@example.com"]
    assert lee["status"] == "invited"
    assert everything.check(got[5])["data"] == _scheduled(lee, iid, conversations[lee["id"]])

    # One transcript imported for a scheduled contact, then the campaign is closed early.
    sam = contacts["sam@example.com"]
    imported = await _import(api, iid, sam["id"], minutes=27)
    assert imported["id"] == conversations[sam["id"]]  # the invitation's conversation is the one completed
    done = await api.post(f"/v1/interviews/{iid}/complete")
    assert done.status_code == 200 and done.json()["status"] == "completed"
    got = await everything.settled(8)
    completed_one, closed = everything.check(got[6]), everything.check(got[7])
    assert completed_one["event"] == "interview.completed"
    assert completed_one["data"] == {
        "interview_id": iid,
        "conversation_id": imported["id"],
        "contact": {"name": "Sam Rivera", "email": "sam@example.com"},
        "duration_minutes": 27,
    }
    assert closed["event"] == "campaign.completed"
    assert closed["data"] == {"interview_id": iid, "completed_count": 1, "total_count": 4}

    # The filtered endpoint got only the three campaign events, each signed with its own secret.
    campaign_events = [lifecycle.check(r) for r in await lifecycle.settled(3)]
    assert sorted(e["event"] for e in campaign_events) == sorted(CAMPAIGN_EVENTS)
    assert {e["event"]: e["data"] for e in campaign_events} == {
        "campaign.started": envelopes[0]["data"],
        "campaign.paused": paused["data"],
        "campaign.completed": closed["data"],
    }
    with pytest.raises(WebhookVerificationError):
        verify(got[0].body, got[0].headers, lifecycle.endpoint["secret"])  # secrets are per endpoint
    # The same event is one event: same body bytes to both endpoints, different delivery ids.
    started_bodies = {r.body for r in receiver.received() if json.loads(r.body)["event"] == "campaign.started"}
    assert len(started_bodies) == 1
    assert len(set(receiver.delivery_ids())) == len(receiver.received()) == 11

    # A closed campaign stays quiet: refused transitions and imports emit nothing.
    assert (await api.post(f"/v1/interviews/{iid}/pause")).status_code == 409
    ana = contacts["ana@example.com"]
    late_import = {"contact_id": ana["id"], "turns": [{"speaker": "agent", "text": "Hello?"}]}
    refused = await api.post(f"/v1/interviews/{iid}/conversations/import", json=late_import)
    assert refused.status_code == 409
    assert len(await deliveries_of(client, tenant, everything.endpoint["id"])) == 8


async def test_imported_transcripts_complete_the_campaign_by_themselves(
    api: Api, client: AsyncClient, tenant: Tenant, receiver: Receiver, delivery_worker: Worker
) -> None:
    hooks = await Hooks.register(
        client, tenant, receiver, "/done", events=["interview.completed", "campaign.completed"], ordered=True
    )
    campaign = await api.create(name="Imported interviews", topics=[{"name": "Onboarding"}])
    iid = campaign["id"]
    people = PEOPLE[:2]
    response = await api.post(f"/v1/interviews/{iid}/contacts/bulk", json={"contacts": people})
    assert response.status_code == 200
    assert (await api.post(f"/v1/interviews/{iid}/start")).status_code == 200
    contacts, conversations = await _ids(api, iid)

    first = await _import(api, iid, contacts["sam@example.com"]["id"], minutes=12)
    got = await hooks.settled(1)
    assert hooks.check(got[0])["data"] == {
        "interview_id": iid,
        "conversation_id": first["id"],
        "contact": {"name": "Sam Rivera", "email": "sam@example.com"},
        "duration_minutes": 12,
    }
    assert (await api.get(f"/v1/interviews/{iid}")).json()["status"] == "active"  # one contact still open

    # The last contact's interview arrives as a WebVTT file: it completes the campaign.
    vtt = (
        "WEBVTT\n\n"
        "00:00:00.000 --> 00:00:05.000\n<v Interviewer>How do you onboard new staff?\n\n"
        "00:00:05.000 --> 00:00:42.000\n<v Ana Ruiz>Shadowing for a week, then a checklist.\n"
    )
    ana = contacts["ana@example.com"]
    response = await client.post(
        f"/v1/interviews/{iid}/conversations/import",
        files={"file": ("ana.vtt", vtt.encode(), "text/vtt")},
        data={"contact_id": ana["id"]},
        headers=tenant.headers,
    )
    assert response.status_code == 201, response.text
    second = response.json()
    assert second["id"] == conversations[ana["id"]]
    got = await hooks.settled(3)
    completed, closed = hooks.check(got[1]), hooks.check(got[2])
    assert [completed["event"], closed["event"]] == ["interview.completed", "campaign.completed"]
    assert completed["data"] == {
        "interview_id": iid,
        "conversation_id": second["id"],
        "contact": {"name": "Ana Ruiz", "email": "ana@example.com"},
        "duration_minutes": second["duration_minutes"],
    }
    assert isinstance(second["duration_minutes"], int)
    assert closed["data"] == {"interview_id": iid, "completed_count": 2, "total_count": 2}
    assert (await api.get(f"/v1/interviews/{iid}")).json()["status"] == "completed"
    # the campaign.completed envelope is not older than the interview.completed that caused it
    assert closed["timestamp"] >= completed["timestamp"]


async def test_booking_and_skipping_contacts(
    api: Api, client: AsyncClient, tenant: Tenant, receiver: Receiver, delivery_worker: Worker
) -> None:
    """A re-booked interview fires `interview.scheduled` with the booked time (UTC); a campaign
    whose contacts are all completed or skipped completes by itself."""
    hooks = await Hooks.register(client, tenant, receiver, "/book", ordered=True)
    campaign = await api.create(name="Bookings", topics=[{"name": "Handover"}])
    iid = campaign["id"]
    response = await api.post(f"/v1/interviews/{iid}/contacts/bulk", json={"contacts": PEOPLE})
    assert response.status_code == 200
    assert (await api.post(f"/v1/interviews/{iid}/start")).status_code == 200
    await hooks.settled(4)
    contacts, conversations = await _ids(api, iid)
    sam, ana, kai = contacts["sam@example.com"], contacts["ana@example.com"], contacts["Kai Moreau"]

    booked = await api.post(
        f"/v1/interviews/{iid}/contacts/{ana['id']}/reschedule", json={"new_time": "2026-05-04T17:00:00+02:00"}
    )
    assert booked.status_code == 200, booked.text
    assert booked.json()["scheduled_at"] == "2026-05-04T15:00:00Z"
    got = await hooks.settled(5)
    assert hooks.check(got[4])["data"] == {
        "interview_id": iid,
        "conversation_id": conversations[ana["id"]],  # the same conversation, now booked
        "contact": {"name": "Ana Ruiz", "email": "ana@example.com"},
        "scheduled_for": "2026-05-04T15:00:00Z",
    }

    imported = await _import(api, iid, sam["id"], minutes=9)
    for contact in (ana, kai):
        cancelled = await api.post(
            f"/v1/interviews/{iid}/contacts/{contact['id']}/cancel", json={"mark_as_skipped": True}
        )
        assert cancelled.status_code == 200 and cancelled.json()["status"] == "skipped"
    got = await hooks.settled(7)
    completed, closed = hooks.check(got[5]), hooks.check(got[6])
    assert completed["event"] == "interview.completed"
    assert completed["data"]["conversation_id"] == imported["id"] and completed["data"]["duration_minutes"] == 9
    assert closed["event"] == "campaign.completed"
    assert closed["data"] == {"interview_id": iid, "completed_count": 1, "total_count": 3}
    assert (await api.get(f"/v1/interviews/{iid}")).json()["status"] == "completed"


async def test_a_rolled_back_pause_sends_nothing(
    api: Api, client: AsyncClient, tenant: Tenant, receiver: Receiver, delivery_worker: Worker
) -> None:
    """A pause the API refuses (unknown reason) changes nothing and delivers nothing."""
    hooks = await Hooks.register(client, tenant, receiver, "/paused", events=["campaign.paused"])
    campaign, _ = await api.ready(1)
    iid = campaign["id"]
    assert (await api.post(f"/v1/interviews/{iid}/start")).status_code == 200
    refused = await api.post(f"/v1/interviews/{iid}/pause", json={"reason": "vacation"})
    assert refused.status_code == 422, refused.text
    assert refused.json()["detail"][0]["loc"] == ["body", "reason"]
    assert (await api.get(f"/v1/interviews/{iid}")).json()["status"] == "active"
    assert await deliveries_of(client, tenant, hooks.endpoint["id"]) == []
    assert (await api.post(f"/v1/interviews/{iid}/pause", json={"reason": "user_paused"})).status_code == 200
    [request] = await hooks.settled(1)
    assert hooks.check(request)["data"] == {"interview_id": iid, "reason": "user_paused"}
