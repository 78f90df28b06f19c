"""Synthesis outputs, graph query (JSON and SSE), exports and access rules over real HTTP routes."""

from __future__ import annotations

import io
import json
import re
import zipfile

from harken.knowledge.service import run_synthesis
from tests.helpers import add_key
from tests.knowledge.conftest import seed_campaign

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text.lower()).strip()


async def _ready(db, settings, tenant, dataset="facility-ops", limit=None):  # type: ignore[no-untyped-def]
    seeded = await seed_campaign(db, tenant.workspace_id, dataset, limit=limit)
    assert await run_synthesis(db, settings, seeded.interview_id) == "completed"
    return seeded


def _said(seeded, conversation_id):  # type: ignore[no-untyped-def]
    raw = seeded.conversations[conversation_id]
    return _norm(" ".join(t["text"] for t in raw["turns"] if t["speaker"] == "participant"))


def _check_evidence(seeded, items):  # type: ignore[no-untyped-def]
    contact_of = {cid: seeded.contact_ids for cid in seeded.conversation_ids}
    assert contact_of
    n = 0
    for ev in items:
        assert set(ev) >= {"conversation_id", "contact_id", "quote", "citation"}
        assert ev["conversation_id"] in seeded.conversations
        assert ev["contact_id"] in seeded.contact_ids.values()
        assert re.fullmatch(re.escape(ev["conversation_id"]) + r":chunk_\d+", ev["citation"])
        assert _norm(ev["quote"]) in _said(seeded, ev["conversation_id"]), ev["quote"]
        n += 1
    return n


async def test_outputs_have_contract_shapes_and_grounded_evidence(app, client, tenant, db, settings_of):
    seeded = await _ready(db, settings_of, tenant)
    base = f"/v1/interviews/{seeded.interview_id}"

    carto = (await client.get(f"{base}/cartography", headers=tenant.headers)).json()
    assert carto["interview_id"] == seeded.interview_id and carto["conversation_count"] == 10
    assert len(carto["categories"]) == 4  # one per topic of the campaign
    assert 6 <= len(carto["processes"]) <= 20
    cat_ids = {c["id"] for c in carto["categories"]}
    for p in carto["processes"]:
        assert UUID.match(p["id"]) and p["category_id"] in cat_ids
        assert p["consensus"] in {"consensus", "common", "edge_case"}
        assert p["contact_count"] == len(p["contact_ids"]) and 0 < p["coverage"] <= 1
        assert p["mention_count"] >= p["contact_count"]
        assert _check_evidence(seeded, p["evidence"]) >= 1
    proc_ids = {p["id"] for p in carto["processes"]}
    for c in carto["connections"]:
        assert c["source"] in proc_ids and c["target"] in proc_ids
        assert c["kind"] in {"hands_off_to", "depends_on", "co_mentioned"} and c["weight"] >= 1

    roadmap = (await client.get(f"{base}/roadmap", headers=tenant.headers)).json()
    assert [ph["horizon"] for ph in roadmap["phases"]] == ["now", "next", "later"]
    opps = [o for ph in roadmap["phases"] for o in ph["opportunities"]]
    assert opps
    for o in opps:
        assert 1 <= o["impact"] <= 5 and 1 <= o["effort"] <= 5
        assert set(o["process_ids"]) <= proc_ids and o["pain_points"] and o["supporting_contacts"] >= 1
        _check_evidence(seeded, o["evidence"])

    personas = (await client.get(f"{base}/personas", headers=tenant.headers)).json()
    assert len(personas["personas"]) == 10
    for p in personas["personas"]:
        assert p["contact_id"] in seeded.contact_ids.values()
        assert 1 <= p["digital_maturity_score"] <= 5 and p["tools"]
        for f in p["frustrations"]:
            assert f["severity"] in {"high", "medium", "low"}
            assert f["process_id"] is None or f["process_id"] in proc_ids
        for field in ("characteristics", "motivations", "frustrations"):
            for item in p[field]:
                _check_evidence(seeded, item["evidence"])
    depts = {d["department"] for d in personas["departments"]}
    assert depts == {"Operations", "Maintenance", "Finance", "Compliance", "Tenant Services"}

    only = (await client.get(f"{base}/personas", params={"department": "finance"}, headers=tenant.headers)).json()
    assert {p["department"] for p in only["personas"]} == {"Finance"} and len(only["departments"]) == 1

    # re-running synthesis keeps ids stable (stable keys) and stays completed
    assert await run_synthesis(db, settings_of, seeded.interview_id) == "completed"
    again = (await client.get(f"{base}/cartography", headers=tenant.headers)).json()
    assert {p["id"] for p in again["processes"]} == proc_ids


async def test_cross_workspace_is_404_and_scopes_apply(app, client, tenant, other_tenant, db, settings_of):
    seeded = await _ready(db, settings_of, tenant, limit=2)
    base = f"/v1/interviews/{seeded.interview_id}"
    for path in (
        "synthesis",
        "cartography",
        "roadmap",
        "personas",
        "graph/status",
        "export/report",
        "export/transcripts",
        f"export/transcript/{seeded.conversation_ids[0]}",
    ):
        r = await client.get(f"{base}/{path}", headers=other_tenant.headers)
        assert r.status_code == 404 and r.json()["code"] == "not_found", path
    r = await client.post(f"{base}/graph/query", json={"query": "x"}, headers=other_tenant.headers)
    assert r.status_code == 404

    interviews_only = await add_key(db, tenant.workspace_id, ["interviews"])
    r = await client.get(f"{base}/export/report", headers={"X-API-Key": interviews_only})
    assert r.status_code == 403 and r.json()["code"] == "insufficient_scope"
    assert (await client.get(f"{base}/cartography", headers={"X-API-Key": interviews_only})).status_code == 200
    exports_only = await add_key(db, tenant.workspace_id, ["exports"])
    assert (
        await client.get(f"{base}/export/report", headers={"Authorization": f"Bearer {exports_only}"})
    ).status_code == 200
    assert (await client.get(f"{base}/cartography", headers={"X-API-Key": exports_only})).status_code == 403
    assert (await client.get(f"{base}/cartography")).status_code == 401


async def test_graph_query_answers_with_citations(app, client, tenant, db, settings_of):
    fresh = await seed_campaign(db, tenant.workspace_id, limit=1)
    r = await client.post(
        f"/v1/interviews/{fresh.interview_id}/graph/query", json={"query": "hi"}, headers=tenant.headers
    )
    assert r.status_code == 409 and r.json()["code"] == "graph_not_ready"

    seeded = await _ready(db, settings_of, tenant)
    url = f"/v1/interviews/{seeded.interview_id}/graph/query"
    r = await client.post(
        url, json={"query": "How do maintenance requests reach the facilities team?"}, headers=tenant.headers
    )
    assert r.status_code == 200
    body = r.json()
    assert set(body) >= {"answer", "patterns", "divergences", "verifications"}
    assert body["answer"] and body["patterns"]
    for p in body["patterns"]:
        assert p["supporting_contacts"] >= 1 and p["citations"]
        for c in p["citations"]:
            cid, _, n = c.partition(":chunk_")
            assert cid in seeded.conversations and n.isdigit()
    names = ["Dana Whitfield", "Marcus", "Priya Raman", "Rachel", "Jordan Ellis"]
    assert any(n in json.dumps(body) for n in names)

    r = await client.post(
        url,
        json={"query": "How do maintenance requests reach the facilities team?", "anonymize": True},
        headers=tenant.headers,
    )
    text = json.dumps(r.json())
    for n in ["Dana", "Whitfield", "Marcus", "Priya", "Rachel", "Jordan", "Ellis", "Aisha", "Greg", "Hannah"]:
        assert n not in text, n
    assert "Participant" in r.json()["answer"]

    r = await client.post(
        url, json={"query": "Where do participants disagree or see things differently?"}, headers=tenant.headers
    )
    assert r.json()["divergences"] and all(d["contacts"] >= 2 for d in r.json()["divergences"])

    # a follow-up uses the conversation history
    r = await client.post(
        url,
        json={
            "query": "Tell me more about that",
            "top_k": 5,
            "conversation_history": [
                {"role": "user", "content": "What goes wrong with contractor invoices?"},
                {"role": "assistant", "content": "Invoices arrive without work order numbers."},
            ],
        },
        headers=tenant.headers,
    )
    assert r.status_code == 200 and "invoice" in r.json()["answer"].lower()
    assert len(r.json()["answer"].splitlines()) <= 6

    for bad in ({}, {"query": ""}, {"query": "x", "top_k": 0}, {"query": "x", "conversation_history": [{"role": "x"}]}):
        r = await client.post(url, json=bad, headers=tenant.headers)
        assert r.status_code == 422, bad
    r = await client.post(url, content=b"{not json", headers={**tenant.headers, "Content-Type": "application/json"})
    assert r.status_code == 400


async def test_graph_query_stream_events(app, client, tenant, db, settings_of):
    seeded = await _ready(db, settings_of, tenant, limit=4)
    url = f"/v1/interviews/{seeded.interview_id}/graph/query/stream"
    r = await client.post(url, json={"query": "What slows down invoice payment?"}, headers=tenant.headers)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    events = re.findall(r"^event: (\w+)$", r.text, re.M)
    assert events == [
        "classifying",
        "retrieving",
        "synthesizing",
        "answer",
        "patterns",
        "divergences",
        "verification",
        "done",
    ]
    datas = [json.loads(d) for d in re.findall(r"^data: (.*)$", r.text, re.M)]
    assert datas[3]["answer"]
    fresh = await seed_campaign(db, tenant.workspace_id, limit=1)
    r = await client.post(
        f"/v1/interviews/{fresh.interview_id}/graph/query/stream", json={"query": "x"}, headers=tenant.headers
    )
    assert r.status_code == 409 and r.json()["code"] == "graph_not_ready"


async def test_exports(app, client, tenant, db, settings_of):
    seeded = await seed_campaign(db, tenant.workspace_id, limit=3)
    base = f"/v1/interviews/{seeded.interview_id}"
    for path in ("export/summary", "export/report"):
        r = await client.get(f"{base}/{path}", headers=tenant.headers)
        assert r.status_code == 409 and r.json()["code"] == "synthesis_pending"

    cid = seeded.conversation_ids[0]
    r = await client.get(f"{base}/export/transcript/{cid}", headers=tenant.headers)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/markdown")
    md = r.text
    assert md.startswith("# Interview with Dana Whitfield")
    assert "Director of Facilities Operations" in md and "**Interviewer:**" in md and "`00:00:" in md
    assert "tenant portal in FixFlow" in md
    r = await client.get(f"{base}/export/transcript/{cid}", params={"format": "json"}, headers=tenant.headers)
    data = r.json()
    assert data["contact"]["name"] == "Dana Whitfield" and data["transcript"][0]["speaker"] == "agent"
    r = await client.get(f"{base}/export/transcript/{cid}", params={"format": "pdf"}, headers=tenant.headers)
    assert r.status_code == 422
    r = await client.get(f"{base}/export/transcript/00000000-0000-0000-0000-000000000000", headers=tenant.headers)
    assert r.status_code == 404

    r = await client.get(f"{base}/export/transcripts", headers=tenant.headers)
    assert r.headers["content-type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(r.content)).namelist()
    assert sorted(names) == ["dana-whitfield.md", "marcus-oyelaran.md", "priya-raman.md"]

    assert await run_synthesis(db, settings_of, seeded.interview_id) == "completed"
    r = await client.get(f"{base}/export/summary", headers=tenant.headers)
    assert r.status_code == 200 and "## Key themes" in r.text and "## Recommendations" in r.text
    r = await client.get(f"{base}/export/report", headers=tenant.headers)
    report = r.text
    for heading in ("## Process map", "## Roadmap", "### Now", "## Personas", "### Dana Whitfield"):
        assert heading in report, heading
    assert report.count("> \u201c") >= 5  # quotes throughout


async def test_llm_backend_end_to_end_with_fallback(app, client, tenant, db, settings_of, httpserver):
    """With HARKEN_LLM_* set, synthesis names and answers come from the (fake, local) model; evidence
    stays verbatim; a failing model leaves the deterministic output."""
    from harken.knowledge import query_service

    calls = []

    def handler(request):  # type: ignore[no-untyped-def]
        from werkzeug import Response

        body = json.loads(request.data)
        calls.append(body)
        user = json.loads(body["messages"][1]["content"]) if body["messages"][1]["content"].startswith("{") else None
        if user and "processes" in user:
            content = {"names": {p["id"]: f"LLM {p['name']}" for p in user["processes"]}, "summary": "LLM summary."}
        else:
            content = {"answer": "LLM answer in prose."}
        return Response(
            json.dumps({"choices": [{"message": {"content": json.dumps(content)}}]}), content_type="application/json"
        )

    httpserver.expect_request("/v1/chat/completions", method="POST").respond_with_handler(handler)
    llm_settings = settings_of.model_copy(update={"llm_base_url": httpserver.url_for("/v1"), "llm_model": "fake"})
    seeded = await seed_campaign(db, tenant.workspace_id, limit=3)
    assert await run_synthesis(db, llm_settings, seeded.interview_id) == "completed"
    carto = (await client.get(f"/v1/interviews/{seeded.interview_id}/cartography", headers=tenant.headers)).json()
    assert carto["processes"] and all(p["name"].startswith("LLM ") for p in carto["processes"])
    for p in carto["processes"]:
        _check_evidence(seeded, p["evidence"])
    overview = (await client.get(f"/v1/interviews/{seeded.interview_id}/synthesis", headers=tenant.headers)).json()
    assert overview["summary"] == "LLM summary."

    async with db.read_sessionmaker() as s:
        from harken.campaigns.models import Campaign

        campaign = await s.get(Campaign, seeded.interview_id)
        version = await query_service.ensure_ready(s, campaign)
    result = await query_service.answer(db, llm_settings, seeded.interview_id, version, "How do requests arrive?")
    assert result["answer"].startswith("LLM answer in prose.") and result["patterns"]

    # the model breaks: same request, deterministic answer
    httpserver.clear()
    httpserver.expect_request("/v1/chat/completions").respond_with_data("upstream down", status=502)
    result = await query_service.answer(db, llm_settings, seeded.interview_id, version, "How do requests arrive?")
    assert not result["answer"].startswith("LLM") and result["answer"]
    assert await run_synthesis(db, llm_settings, seeded.interview_id) == "completed"
    carto = (await client.get(f"/v1/interviews/{seeded.interview_id}/cartography", headers=tenant.headers)).json()
    assert not any(p["name"].startswith("LLM ") for p in carto["processes"])
    assert len(calls) >= 2
