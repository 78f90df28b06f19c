"""The published `ontora-cli` (PyPI), unmodified, against a real `harken serve` subprocess.

Covers `auth status`, `campaigns list|create --config|show|start|pause|resume`,
`contacts list|add|import`, `transcripts list` and `webhooks list|add|test|deliveries|remove` (the
server may deliver to a real receiver on 127.0.0.1). (`transcripts get|export` and `reports` call
routes owned by other domains.)
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from harken.core.settings import Settings
from harken.webhooks import WebhookVerificationError, verify
from tests.helpers import ServerProcess, free_port
from tests.webhooks.receiver import Receiver

KEY = "ont_live_" + "cli0test0key0" * 4
ONTORA = shutil.which("ontora", path=str(Path(sys.executable).parent)) or shutil.which("ontora")

pytestmark = pytest.mark.skipif(ONTORA is None, reason="ontora-cli is not installed (pip install -e '.[test]')")


@dataclass
class Cli:
    server: ServerProcess
    home: Path
    workspace_id: str

    @property
    def http(self) -> httpx.Client:
        return httpx.Client(base_url=self.server.url, headers={"X-API-Key": KEY}, timeout=30)

    def run(self, *args: str, ok: bool = True, workspace: bool = True) -> subprocess.CompletedProcess[str]:
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(self.home),  # no ~/.ontora/config.yaml: env vars only
            "ONTORA_BASE_URL": self.server.url,
            "ONTORA_API_KEY": KEY,
            "COLUMNS": "250",
            "NO_COLOR": "1",
        }
        if workspace:
            env["ONTORA_WORKSPACE_ID"] = self.workspace_id
        result = subprocess.run([ONTORA or "ontora", *args], env=env, capture_output=True, text=True, timeout=60)
        if ok:
            assert result.returncode == 0, f"{args}: {result.stdout}\n{result.stderr}"
        return result


@pytest.fixture
def cli(settings: Settings, tmp_path: Path) -> Iterator[Cli]:
    port = free_port()
    env = {
        "HARKEN_DATABASE_URL": settings.resolved_database_url,
        "HARKEN_DATA_DIR": str(tmp_path / "serve"),
        "HARKEN_BOOTSTRAP_API_KEY": KEY,
        "HARKEN_BASE_URL": f"http://127.0.0.1:{port}",
        "HARKEN_RATE_LIMIT": "100000/minute",
        "HARKEN_WEBHOOK_ALLOWED_NETWORKS": '["127.0.0.0/8"]',  # the tests' receivers listen on loopback
    }
    server = ServerProcess(["serve", "--port", str(port)], env, port=port).start(tmp_path / "serve.log").wait_ready()
    home = tmp_path / "home"
    home.mkdir()
    try:
        workspace_id = httpx.get(f"{server.url}/v1/api-keys/current", headers={"X-API-Key": KEY}).json()["workspace_id"]
        yield Cli(server, home, workspace_id)
    finally:
        server.stop()


CAMPAIGN_YAML = """
name: Onboarding research
goal: Understand how new customers get started
description: CLI test
channel: in_app_chat
duration_minutes: 25
completion_threshold: 80
default_language: en
agent_behavior: Curious and brief
welcome_screen: Welcome!
closing_message: Thanks!
is_anonymous: false
topics:
  - name: First week
    goal: What happened in the first week
    priority: required
    success_threshold: "0.8"
    sub_topics: [Access, Training]
    questions:
      - text: Walk me through your first day.
        required: true
      - text: Rank what helped most
        type: ranking
        component_config:
          items: [{id: docs, label: Docs}, {id: people, label: Colleagues}]
  - name: Support
    priority: optional
    questions:
      - text: How satisfied are you?
        type: range_slider
        component_config: {min: 0, max: 10, step: 1}
contacts:
  - name: Ana Ruiz
    email: ana@example.com
    job_title: Analyst
    department: Sales Ops
    seniority_level: 2
  - file: people.csv
"""

PEOPLE_CSV = (
    "name,email,job_title,department,seniority_level\n"
    "Lee Park,lee@example.com,Manager,Sales,4\n"
    "Mo Diaz,mo@example.com,,Support,\n"
)


def _create(cli: Cli, tmp_path: Path, yaml_text: str = CAMPAIGN_YAML, *extra: str) -> dict:
    (tmp_path / "people.csv").write_text(PEOPLE_CSV)
    config = tmp_path / "campaign.yaml"
    config.write_text(yaml_text)
    result = cli.run("campaigns", "create", "--config", str(config), "--json", *extra)
    return json.loads(result.stdout)


def test_auth_status(cli: Cli) -> None:
    out = cli.run("auth", "status").stdout
    assert "Connected." in out and f"API key workspace: {cli.workspace_id}" in out and "Scopes: *" in out


def test_campaign_lifecycle_through_the_cli(cli: Cli, tmp_path: Path) -> None:
    created = _create(cli, tmp_path)
    iid = created["id"]
    assert created["topics_created"] == 2 and created["contacts_created"] == 3
    assert created["interview_duration_minutes"] == 20 and created["interview_order"] == "seniority_high_first"
    with cli.http as http:
        sets = http.get(f"/v1/interviews/{iid}/question-sets").json()
        contacts = http.get(f"/v1/interviews/{iid}/contacts").json()
    assert [s["name"] for s in sets] == ["First week", "Support"]
    assert sets[0]["questions"][1]["component_config"]["items"][0] == {"id": "docs", "label": "Docs"}
    assert sorted(c["email"] for c in contacts) == ["ana@example.com", "lee@example.com", "mo@example.com"]
    lee = next(c for c in contacts if c["email"] == "lee@example.com")
    assert lee["seniority_level"] == 4 and lee["job_title"] == "Manager"

    listing = cli.run("campaigns", "list").stdout
    assert iid in listing and "Onboarding research" in listing and "draft" in listing and "0/3" in listing
    assert iid in cli.run("campaigns", "list", "--status", "draft").stdout
    assert iid not in cli.run("campaigns", "list", "--status", "active").stdout

    show = cli.run("campaigns", "show", iid).stdout
    assert "Onboarding research" in show and "Status: draft" in show and "Topics: 2  Contacts: 3" in show
    assert "Progress: 0/3 (0.0%)" in show

    cli.run("contacts", "add", iid, "--name", "Kim Lee", "--email", "kim@example.com", "--seniority", "3", "--required")
    (tmp_path / "more.csv").write_text("name,email,department\nZoe Wu,zoe@example.com,Ops\n")
    assert "Imported 1 contacts" in cli.run("contacts", "import", iid, str(tmp_path / "more.csv")).stdout
    assert "kim@example.com" in cli.run("contacts", "list", iid).stdout

    started = cli.run("campaigns", "start", iid).stdout
    assert "5 contact(s) invited" in started
    invited = cli.run("contacts", "list", iid, "--status", "invited").stdout
    assert invited.count("invited") == 5
    again = cli.run("campaigns", "start", iid, ok=False)
    assert again.returncode == 1 and "409" in again.stdout and "Cannot start a campaign that is active" in again.stdout

    assert "Paused." in cli.run("campaigns", "pause", iid).stdout
    assert "Status: paused" in cli.run("campaigns", "show", iid).stdout
    assert "Resumed." in cli.run("campaigns", "resume", iid).stdout
    assert "Status: active" in cli.run("campaigns", "show", iid).stdout
    not_paused = cli.run("campaigns", "resume", iid, ok=False)
    assert not_paused.returncode == 1 and "not paused" in not_paused.stdout

    with cli.http as http:
        kim = next(c for c in http.get(f"/v1/interviews/{iid}/contacts").json() if c["email"] == "kim@example.com")
        turns = [{"speaker": "agent", "text": "How was week one?"}, {"speaker": "participant", "text": "Slow access."}]
        imported = http.post(
            f"/v1/interviews/{iid}/conversations/import", json={"contact_id": kim["id"], "turns": turns}
        )
        assert imported.status_code == 201
    transcripts = cli.run("transcripts", "list", iid).stdout
    assert "Kim Lee" in transcripts and "completed" in transcripts and transcripts.count("scheduled") == 4


def test_future_start_and_validation_errors(cli: Cli, tmp_path: Path) -> None:
    start = (datetime.now(UTC) + timedelta(days=3)).date().isoformat()
    yaml_text = CAMPAIGN_YAML.replace(
        "channel: in_app_chat", f"channel: in_app_chat\ntimeframe_start: '{start}'\ntimezone: Europe/Paris"
    )
    created = _create(cli, tmp_path, yaml_text, "--start")
    assert created["start_message"].startswith("Campaign started. Invitations to 3 contact(s) are scheduled for")
    show = cli.run("campaigns", "show", created["id"]).stdout
    assert "Status: active" in show and "Invitations scheduled for:" in show and "Europe/Paris" in show
    # a contact the server refuses: the CLI shows the 422 field error and exits 1
    bad = CAMPAIGN_YAML.replace("seniority_level: 2", "seniority_level: 9")
    result = _create_raw(cli, tmp_path, bad)
    assert result.returncode == 1 and "422" in result.stdout and "seniority_level" in result.stdout
    no_ws = cli.run("campaigns", "list", ok=False, workspace=False)
    assert no_ws.returncode == 1 and "No workspace ID configured" in no_ws.stdout
    other = cli.run("campaigns", "list", "--workspace", "00000000-0000-0000-0000-000000000000", ok=False)
    assert other.returncode == 1 and "403" in other.stdout


def _create_raw(cli: Cli, tmp_path: Path, yaml_text: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "people.csv").write_text(PEOPLE_CSV)
    config = tmp_path / "bad.yaml"
    config.write_text(yaml_text)
    return cli.run("campaigns", "create", "--config", str(config), ok=False)


# ---------------------------------------------------------------- webhooks

CREATED = re.compile(r"Created endpoint (\S+)\nSigning secret \(save now, not shown again\): (whsec_\S+)")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver().start()
    yield server
    server.stop()


def poll(predicate: Callable[[], Any], timeout: float = 20.0) -> Any:
    """Wait (bounded) for `predicate()` to be truthy; returns its value."""
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        time.sleep(0.05)
    return value


def _add(cli: Cli, *args: str) -> tuple[str, str]:
    out = cli.run("webhooks", "add", *args).stdout
    match = CREATED.search(out)
    assert match, out
    return match.group(1), match.group(2)


def _delivered(cli: Cli, endpoint_id: str, n: int) -> list[dict[str, Any]]:
    """The endpoint's deliveries once there are `n` and every one is delivered (bounded wait)."""

    def done() -> list[dict[str, Any]] | None:
        with cli.http as http:
            rows = http.get(f"/v1/webhook-endpoints/{endpoint_id}/deliveries").json()
        return rows if len(rows) == n and all(r["status"] == "delivered" for r in rows) else None

    return poll(done)


def _events(receiver: Receiver, path: str, secret: str) -> list[dict[str, Any]]:
    """What `path` received, each request verified with `secret` (both signature schemes)."""
    envelopes = []
    for request in receiver.received(path):
        envelope = verify(request.body, request.headers, secret)
        body_only = {k: v for k, v in request.headers.items() if not k.startswith("webhook-")}
        assert verify(request.body, body_only, secret) == envelope
        assert request.headers["x-ontora-event"] == envelope["event"]
        envelopes.append(envelope)
    return envelopes


def _rows(table: str) -> list[list[str]]:
    """The body rows of a rich table printed by the CLI, as cells."""
    return [[cell.strip() for cell in line.split("│")[1:-1]] for line in table.splitlines() if line.startswith("│")]


def test_webhooks_commands_through_the_cli(cli: Cli, tmp_path: Path, receiver: Receiver) -> None:
    assert _rows(cli.run("webhooks", "list").stdout) == []

    all_id, all_secret = _add(cli, receiver.url("/all"), "--description", "Everything")
    campaign_id, campaign_secret = _add(cli, receiver.url("/campaigns"), "--events", "campaign.started,campaign.paused")
    assert all_secret != campaign_secret
    with cli.http as http:
        everything = http.get(f"/v1/webhook-endpoints/{all_id}").json()
        filtered = http.get(f"/v1/webhook-endpoints/{campaign_id}").json()
    assert everything["events"] == [] and everything["description"] == "Everything" and everything["active"] is True
    assert filtered["events"] == ["campaign.started", "campaign.paused"] and filtered["description"] is None
    assert "secret" not in everything
    listed = {row[0]: row[1:] for row in _rows(cli.run("webhooks", "list").stdout)}
    assert listed == {
        all_id: [receiver.url("/all"), "*all*", "yes"],
        campaign_id: [receiver.url("/campaigns"), "campaign.started, campaign.paused", "yes"],
    }

    # `webhooks test` (a POST without a body): one signed webhook.test to that endpoint only
    assert "Enqueued 1 test delivery(ies)" in cli.run("webhooks", "test", all_id).stdout
    [test_delivery] = _delivered(cli, all_id, 1)
    [test_event] = _events(receiver, "/all", all_secret)
    assert test_event["event"] == "webhook.test" and test_event["data"]["endpoint_id"] == all_id
    assert test_event["workspace_id"] == cli.workspace_id
    assert receiver.received("/all")[0].delivery_id == test_delivery["id"]
    assert receiver.received("/campaigns") == []
    with pytest.raises(WebhookVerificationError):
        verify(receiver.received("/all")[0].body, receiver.received("/all")[0].headers, campaign_secret)
    [row] = _rows(cli.run("webhooks", "deliveries", all_id).stdout)
    assert row[:4] == ["webhook.test", "delivered", "1", "200"] and row[4] == test_delivery["created_at"][:19]

    # A campaign driven by the CLI: the filtered endpoint gets only what it subscribed to.
    created = _create(cli, tmp_path, CAMPAIGN_YAML, "--start")
    iid = created["id"]
    assert "Paused." in cli.run("campaigns", "pause", iid).stdout
    _delivered(cli, campaign_id, 2)
    _delivered(cli, all_id, 1 + 1 + 3 + 1)  # test, started, 3 scheduled, paused
    got = _events(receiver, "/campaigns", campaign_secret)
    assert sorted(e["event"] for e in got) == ["campaign.paused", "campaign.started"]
    assert {e["event"]: e["data"] for e in got} == {
        "campaign.started": {"interview_id": iid, "name": "Onboarding research", "contact_count": 3},
        "campaign.paused": {"interview_id": iid, "reason": "user_paused"},
    }
    every = [e["event"] for e in _events(receiver, "/all", all_secret)]
    assert sorted(every) == sorted(
        ["webhook.test", "campaign.started", "campaign.paused"] + ["interview.scheduled"] * 3
    )
    rows = _rows(cli.run("webhooks", "deliveries", campaign_id).stdout)
    assert sorted(r[0] for r in rows) == ["campaign.paused", "campaign.started"]
    assert all(r[1:4] == ["delivered", "1", "200"] for r in rows)
    [newest] = _rows(cli.run("webhooks", "deliveries", campaign_id, "--limit", "1").stdout)
    assert newest[0] == "campaign.paused"

    # `webhooks remove`: gone from the list, nothing more is sent to it.
    assert "Removed." in cli.run("webhooks", "remove", campaign_id).stdout
    assert [row[0] for row in _rows(cli.run("webhooks", "list").stdout)] == [all_id]
    cli.run("campaigns", "resume", iid)
    cli.run("campaigns", "pause", iid)
    _delivered(cli, all_id, 7)
    assert len(receiver.received("/campaigns")) == 2
    for args in (("remove", campaign_id), ("deliveries", campaign_id), ("test", campaign_id)):
        gone = cli.run("webhooks", *args, ok=False)
        assert gone.returncode == 1 and "API error (404)" in gone.stdout, args


def test_webhooks_cli_errors(cli: Cli) -> None:
    bad_url = cli.run("webhooks", "add", "ftp://example.com/hook", ok=False)
    assert bad_url.returncode == 1 and "API error (422)" in bad_url.stdout and "url:" in bad_url.stdout
    bad_event = cli.run("webhooks", "add", "https://example.com/hook", "--events", "campaign.exploded", ok=False)
    assert bad_event.returncode == 1 and "API error (422)" in bad_event.stdout
    assert "events.0" in bad_event.stdout and "campaign.started" in bad_event.stdout  # the allowed names
    other = cli.run("webhooks", "list", "--workspace", "00000000-0000-0000-0000-000000000000", ok=False)
    assert other.returncode == 1 and "API error (403)" in other.stdout
    no_ws = cli.run("webhooks", "add", "https://example.com/hook", ok=False, workspace=False)
    assert no_ws.returncode == 1 and "No workspace ID configured" in no_ws.stdout
    assert _rows(cli.run("webhooks", "list").stdout) == []  # nothing was created
