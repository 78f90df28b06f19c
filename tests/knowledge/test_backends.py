"""Embedding backends, the optional LLM backend (against local fake servers) and the generic
language functions on material from another domain."""

from __future__ import annotations

import json

import numpy as np
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from harken.core.settings import Settings
from harken.knowledge import llm
from harken.knowledge.nlp.embeddings import (
    EmbeddingError,
    OpenAIEmbedder,
    cosine_top_k,
    from_blob,
    get_embedder,
    to_blob,
)
from harken.knowledge.nlp.extract import analyze_conversation, detect_tools
from harken.knowledge.nlp.text import chunk_turns, split_sentences


def test_default_embedder_is_offline_and_normalised():
    emb = get_embedder("wordllama")
    m = emb.embed(["The invoice was paid late.", "Payment of the bill was delayed.", "The cat sleeps."])
    assert m.shape == (3, 256) and m.dtype == np.float32
    assert np.allclose(np.linalg.norm(m, axis=1), 1.0, atol=1e-4)
    assert np.array_equal(from_blob(to_blob(m), 256), m)
    top = cosine_top_k(m, m[0], 2)
    assert top[0][0] == 0 and len(top) == 2
    assert emb.embed([]).shape == (0, 256)


def test_openai_compatible_embeddings_endpoint(httpserver: HTTPServer):
    seen = []

    def handler(request: Request) -> Response:
        body = json.loads(request.data)
        seen.append((request.headers.get("Authorization"), body["model"], len(body["input"])))
        data = [{"index": i, "embedding": [float(len(t)), 1.0, 0.0]} for i, t in enumerate(body["input"])]
        return Response(json.dumps({"data": list(reversed(data))}), content_type="application/json")

    httpserver.expect_request("/v1/embeddings", method="POST").respond_with_handler(handler)
    emb = OpenAIEmbedder(httpserver.url_for("/v1"), "sk-test", "text-embedding-3-small")
    m = emb.embed(["a", "bbbb"])
    assert seen == [("Bearer sk-test", "text-embedding-3-small", 2)]
    assert m.shape == (2, 3) and emb.dim == 3
    assert np.allclose(m[1], np.array([4.0, 1.0, 0.0]) / np.linalg.norm([4.0, 1.0, 0.0]))


def test_openai_embeddings_errors_are_clear(httpserver: HTTPServer):
    httpserver.expect_request("/v1/embeddings").respond_with_data("nope", status=500)
    with pytest.raises(EmbeddingError, match="embedding endpoint failed"):
        OpenAIEmbedder(httpserver.url_for("/v1"), None, "m").embed(["x"])
    with pytest.raises(EmbeddingError, match="required"):
        OpenAIEmbedder("", None, "m")
    with pytest.raises(EmbeddingError, match="unknown"):
        get_embedder("nonsense")


def _settings(url: str | None) -> Settings:
    return Settings(llm_base_url=url, llm_model="fake-model" if url else None, llm_api_key="k", _env_file=None)


async def test_llm_rewrites_answer_and_falls_back(httpserver: HTTPServer):
    def handler(request: Request) -> Response:
        body = json.loads(request.data)
        assert body["response_format"] == {"type": "json_object"} and body["model"] == "fake-model"
        content = json.dumps({"answer": "Requests arrive by email and phone."})
        return Response(json.dumps({"choices": [{"message": {"content": content}}]}), content_type="application/json")

    httpserver.expect_request("/chat/completions", method="POST").respond_with_handler(handler)
    base = {
        "answer": "- A: \u201cquote\u201d",
        "patterns": [{"claim": "quote", "supporting_contacts": 1, "citations": []}],
    }
    out = await llm.rewrite_answer(_settings(httpserver.url_for("")), "How?", dict(base))
    assert out["answer"].startswith("Requests arrive by email and phone.") and out["patterns"] == base["patterns"]

    # a broken backend leaves the deterministic answer untouched
    httpserver.clear()
    httpserver.expect_request("/chat/completions").respond_with_data("{not json", status=200)
    assert await llm.rewrite_answer(_settings(httpserver.url_for("")), "How?", dict(base)) == base
    assert await llm.rewrite_answer(_settings(None), "How?", dict(base)) == base
    assert not llm.enabled(_settings(None))


async def test_llm_names_processes_but_keeps_evidence(httpserver: HTTPServer):
    reply = {"names": {"p1": "Log incoming requests", "p2": 42}, "summary": "A prose summary."}
    httpserver.expect_request("/chat/completions").respond_with_json(
        {"choices": [{"message": {"content": json.dumps(reply)}}]}
    )
    ev = [{"conversation_id": "c", "contact_id": "x", "quote": "q", "citation": "c:chunk_0"}]
    outputs = {
        "summary": "old",
        "cartography": {
            "processes": [
                {"id": "p1", "name": "Request channels", "evidence": ev},
                {"id": "p2", "name": "Other", "evidence": ev},
            ]
        },
    }
    await llm.improve_synthesis(_settings(httpserver.url_for("")), outputs)
    assert [p["name"] for p in outputs["cartography"]["processes"]] == ["Log incoming requests", "Other"]
    assert outputs["summary"] == "A prose summary." and outputs["cartography"]["processes"][0]["evidence"] == ev


def test_chunks_are_sentence_bounded_with_overlap():
    sentence = "The nurse checks the medication chart before every round on the ward. "
    turns = [{"speaker": "participant", "text": sentence * 40}]
    chunks = chunk_turns(turns, size=1000, overlap=200)
    assert len(chunks) >= 3
    for c in chunks:
        assert len(c.text) <= 1000 + len("Participant: ")
        assert c.text.rstrip().endswith(".")
    # consecutive chunks share about 200 characters of whole sentences
    first_end = chunks[0].last
    assert chunks[1].first <= first_end
    assert [s.text for s in split_sentences("Dr. Smith arrived. It was 5.5 hours late!")] == [
        "Dr. Smith arrived.",
        "It was 5.5 hours late!",
    ]


def test_generic_extraction_on_an_unseen_domain():
    turns = [
        {"speaker": "agent", "text": "What gets in the way during a shift?"},
        {
            "speaker": "participant",
            "text": "Honestly the worst part is the paper charts. We copy every reading "
            "into Epic by hand at the end of the shift, which takes about forty minutes and nobody checks it.",
        },
        {"speaker": "agent", "text": "What matters most to you in this job?"},
        {
            "speaker": "participant",
            "text": "I want my patients to feel safe. I'd love to spend less time on "
            "paperwork and more at the bedside. We message each other on Teams when the pharmacy is late.",
        },
    ]
    a = analyze_conversation("cv", "ct", turns, exclude_names={"Maria"})
    assert "Epic" in a.tools and "Teams" in a.tools and any(t.startswith("Paper chart") for t in a.tools)
    assert (a.pain_points and "by hand" in a.pain_points[0]["quote"]) or "paper" in a.pain_points[0]["quote"]
    texts = " ".join(a.sentences[i].text for run in a.motivations for i in run)
    assert "patients to feel safe" in texts
    assert 1 <= a.digital_maturity_score <= 5
    assert detect_tools("Maria said it was fine, and then Monday came.", {"maria"}) == []
