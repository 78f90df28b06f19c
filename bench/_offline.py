"""In-process run of the knowledge pipeline on a labelled campaign, shaped like the scorer's
`out` dict, so `score_synthesis.score()` can be applied without a server (bench and dev use)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from harken.knowledge.nlp.embeddings import get_embedder
from harken.knowledge.nlp.extract import analyze_conversation
from harken.knowledge.nlp.synthesis import ContactInfo, ConversationInput, synthesize

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
if not SHARED.exists():
    SHARED = Path("/work/shared")
sys.path.insert(0, str(SHARED / "tools"))


def scorer():  # type: ignore[no-untyped-def]
    import score_synthesis

    return score_synthesis


def load_set(ds: Path) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, dict[str, Any]]]:
    campaign = json.loads((ds / "campaign.json").read_text())
    convs = {}
    for c in campaign["contacts"]:
        convs[c["ref"]] = json.loads((ds / "conversations" / f"{c['ref']}.json").read_text())
    return campaign, campaign["contacts"], convs


def campaign_input(campaign: dict[str, Any], iid: str = "iv") -> dict[str, Any]:
    topics = [
        {
            "name": t["name"],
            "description": t.get("goal"),
            "sub_topics": t.get("sub_topics", []),
            "questions": [q["text"] for q in t.get("questions", [])],
        }
        for t in campaign.get("topics", [])
    ]
    return {"id": iid, "name": campaign["name"], "goal": campaign.get("goal"), "topics": topics}


def build_inputs(contacts: list[dict[str, Any]], convs: dict[str, dict[str, Any]], embedder) -> list[ConversationInput]:
    names = {part for c in contacts for part in c["name"].split()}
    out = []
    for c in contacts:
        turns = convs[c["ref"]]["turns"]
        cid = f"cv-{c['ref']}"
        a = analyze_conversation(cid, c["ref"], turns, exclude_names=names, contact_label=c["name"])
        emb = embedder.embed([s.text for s in a.sentences])
        info = ContactInfo(c["ref"], c["name"], c.get("job_title"), c.get("department"), c.get("seniority_level"))
        out.append(ConversationInput(cid, info, a, emb, turns))
    return out


def run(ds: Path, with_answers: bool = True) -> dict[str, Any]:
    embedder = get_embedder()
    campaign, contacts, convs = load_set(ds)
    inputs = build_inputs(contacts, convs, embedder)
    result = synthesize(campaign_input(campaign), inputs, embedder.embed)
    out: dict[str, Any] = {
        "interview_id": "iv",
        "ref_of": {c["ref"]: c["ref"] for c in contacts},
        "synthesis": result,
        "seconds_to_synthesis": 0.0,
        "cartography": result["cartography"],
        "roadmap": result["roadmap"],
        "personas": result["personas"],
        "conversations": {"items": [{"id": f"cv-{c['ref']}", "contact_id": c["ref"]} for c in contacts]},
        "answers": [],
    }
    if with_answers:
        from harken.knowledge.nlp.query import QueryIndex

        index = QueryIndex.build(inputs, result, embedder.embed, campaign_input(campaign)["topics"])
        truth = json.loads((ds / "truth.json").read_text())
        qs = [q["question"] for q in truth.get("questions", [])]
        qs.append("Where do participants disagree or see things differently?")
        out["answers"] = [index.answer(q) for q in qs]
    return out
