"""The optional OpenAI-compatible backend, against a local fake server (pytest-httpserver)."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from httpx import ASGITransport, AsyncClient
from pytest_httpserver import HTTPServer
from sqlalchemy import create_engine, text
from werkzeug import Request, Response

from harken.core.db import sync_url
from harken.core.settings import Settings
from tests.agent.conftest import make_campaign
from tests.helpers import create_tenant

ROLE_ANSWER = "I lead the planning team for the north site, about twelve people."
PLAN_ANSWER = (
    "Every Monday we hold a capacity review with the shift leads and go through the order book, "
    "then I put the assignments on the whiteboard."
)


@pytest.fixture
async def llm_app(settings: Settings, httpserver: HTTPServer) -> AsyncIterator[Any]:
    from harken.app import create_app

    llm_settings = settings.model_copy(
        update={
            "llm_base_url": httpserver.url_for("/v1"),
            "llm_api_key": "sk-test-123",
            "llm_model": "fake-interviewer",
            "llm_timeout_seconds": 1.0,
        }
    )
    application = create_app(llm_settings, run_worker=False)
    async with application.router.lifespan_context(application):
        yield application


async def start(app: Any) -> tuple[AsyncClient, str]:
    tenant = await create_tenant(app.state.db)
    setup = await make_campaign(app.state.db, tenant.workspace_id)
    client = AsyncClient(transport=ASGITransport(app=app, raise_app_exceptions=False), base_url="http://t")
    token = setup.tokens[0]
    await client.get(f"/v1/respond/{token}")
    first = await client.post(f"/v1/respond/{token}/messages", json={"text": ROLE_ANSWER})
    assert "plan the coming week" in first.json()["reply"]["text"]  # campaign questions are never reworded
    return client, token


def completion(content: Any) -> dict[str, Any]:
    return {
        "id": "x",
        "object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}}],
    }


async def test_follow_up_is_worded_by_the_model(llm_app: Any, httpserver: HTTPServer) -> None:
    seen: list[dict[str, Any]] = []

    def handler(request: Request) -> Response:
        seen.append({"auth": request.headers.get("Authorization"), "body": json.loads(request.data)})
        return Response(json.dumps(completion("What happens in that capacity review when the order book changes?")))

    httpserver.expect_request("/v1/chat/completions", method="POST").respond_with_handler(handler)
    client, token = await start(llm_app)
    reply = (await client.post(f"/v1/respond/{token}/messages", json={"text": PLAN_ANSWER})).json()["reply"]
    assert reply["text"] == "What happens in that capacity review when the order book changes?"
    assert seen and seen[0]["auth"] == "Bearer sk-test-123" and seen[0]["body"]["model"] == "fake-interviewer"
    prompt = seen[0]["body"]["messages"][1]["content"]
    assert PLAN_ANSWER in prompt and "Draft message" in prompt
    await client.aclose()


@pytest.mark.parametrize(
    "mode",
    ["status_500", "not_json", "no_choices", "timeout", "no_question", "repeat"],
)
async def test_any_backend_failure_falls_back_to_the_offline_wording(
    llm_app: Any, httpserver: HTTPServer, mode: str
) -> None:
    def handler(request: Request) -> Response:
        if mode == "status_500":
            return Response("boom", status=500)
        if mode == "not_json":
            return Response("<html>oops</html>", content_type="text/html")
        if mode == "no_choices":
            return Response(json.dumps({"choices": []}))
        if mode == "timeout":
            time.sleep(2.5)
            return Response(json.dumps(completion("Too late?")))
        if mode == "no_question":
            return Response(json.dumps(completion("Thanks for that.")))
        return Response(json.dumps(completion("How does your team plan the coming week?")))

    httpserver.expect_request("/v1/chat/completions").respond_with_handler(handler)
    client, token = await start(llm_app)
    response = await client.post(f"/v1/respond/{token}/messages", json={"text": PLAN_ANSWER})
    assert response.status_code == 200
    reply = response.json()["reply"]["text"]
    assert "\u201c" in reply and reply.endswith("?")  # the offline follow-up quoting the answer
    assert reply != "How does your team plan the coming week?"
    await client.aclose()


async def test_no_transaction_is_held_while_the_model_thinks(
    llm_app: Any, httpserver: HTTPServer, settings: Settings
) -> None:
    """While the fake model is answering, another writer can lock the conversation at once."""
    outcomes: list[str] = []
    url = sync_url(settings.resolved_database_url)
    engine = create_engine(url, connect_args={"timeout": 0.2} if url.startswith("sqlite") else {})

    def handler(request: Request) -> Response:
        try:
            with engine.connect() as conn:
                if engine.dialect.name == "sqlite":
                    conn.exec_driver_sql("BEGIN IMMEDIATE")
                    conn.exec_driver_sql("ROLLBACK")
                else:
                    conn.execute(text("SET lock_timeout = '200ms'"))
                    conn.execute(text("SELECT id FROM conversations FOR UPDATE NOWAIT"))
                    conn.rollback()
            outcomes.append("free")
        except Exception as exc:  # a held lock shows up here
            outcomes.append(f"locked: {exc.__class__.__name__}")
        return Response(json.dumps(completion("What happens in that review when plans change?")))

    httpserver.expect_request("/v1/chat/completions").respond_with_handler(handler)
    client, token = await start(llm_app)
    response = await client.post(f"/v1/respond/{token}/messages", json={"text": PLAN_ANSWER})
    assert response.status_code == 200
    assert outcomes == ["free"]
    await client.aclose()
    engine.dispose()


async def test_a_dead_backend_is_skipped_after_three_failures(llm_app: Any, httpserver: HTTPServer) -> None:
    calls: list[int] = []

    def handler(request: Request) -> Response:
        calls.append(1)
        return Response("down", status=503)

    httpserver.expect_request("/v1/chat/completions").respond_with_handler(handler)
    client, token = await start(llm_app)
    answers = [
        PLAN_ANSWER,
        "The plan slips when urgent requests from the sales team land on Tuesday and everything gets reshuffled.",
        "We keep the assignments on a whiteboard and in a shared spreadsheet that the shift leads update by hand.",
        "Handovers happen in a ten minute huddle where the outgoing lead reads the open items aloud to the next one.",
        "Honestly the biggest issue is that nobody writes down what was promised to customers during the shift.",
        "Shift notes live in a paper logbook next to the coffee machine, and pages go missing every few weeks.",
        "Open items are tracked in my head mostly, plus a few sticky notes on the monitor for the urgent ones.",
        "Changing priorities come from the regional manager by phone, usually after the plan is already printed.",
    ]
    rewordable = 0
    for answer in answers:
        response = await client.post(f"/v1/respond/{token}/messages", json={"text": answer})
        assert response.status_code == 200
        rewordable += "\u201c" in response.json()["reply"]["text"] or "How" in response.json()["reply"]["text"]
    assert rewordable >= 5
    assert len(calls) == 3  # then the breaker opened: no more waiting on a dead backend
    await client.aclose()


async def test_concurrent_messages_with_the_model_keep_the_transcript_consistent(
    llm_app: Any, httpserver: HTTPServer
) -> None:
    """The compare-and-set path: replies computed outside the transaction, applied in order."""
    import asyncio

    counter = iter(range(1000))

    def handler(request: Request) -> Response:
        time.sleep(0.05)
        return Response(json.dumps(completion(f"Could you tell me more about point {next(counter)}?")))

    httpserver.expect_request("/v1/chat/completions").respond_with_handler(handler)
    client, token = await start(llm_app)
    texts = [f"Answer {i}: we plan with the team and adjust every single day when things change." for i in range(5)]
    responses = await asyncio.gather(*(client.post(f"/v1/respond/{token}/messages", json={"text": t}) for t in texts))
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses]
    state = (await client.get(f"/v1/respond/{token}")).json()
    speakers = [m["speaker"] for m in state["messages"]]
    assert speakers == ["agent", "participant", "agent"] + ["participant", "agent"] * len(texts)
    assert sorted(m["text"] for m in state["messages"] if m["text"] in texts) == sorted(texts)
    await client.aclose()
