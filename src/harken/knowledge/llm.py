"""Optional OpenAI-compatible chat backend (`HARKEN_LLM_BASE_URL`, `_API_KEY`, `_MODEL`).

Used only to improve wording (answers, summaries, process names). Every call has a deterministic
fallback: any error, timeout or malformed reply leaves the extractive output untouched. Quotes are
never taken from the model: evidence always comes from the transcripts.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx

from harken.core.settings import Settings

logger = logging.getLogger("harken.knowledge.llm")


def enabled(settings: Settings) -> bool:
    return bool(settings.llm_base_url and settings.llm_model)


async def chat_json(settings: Settings, system: str, user: str) -> dict[str, Any] | None:
    """One JSON-mode chat completion; None on any failure."""
    if not enabled(settings):
        return None
    url = f"{str(settings.llm_base_url).rstrip('/')}/chat/completions"
    headers = {"Authorization": f"Bearer {settings.llm_api_key}"} if settings.llm_api_key else {}
    body = {
        "model": settings.llm_model,
        "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}],
        "response_format": {"type": "json_object"},
        "temperature": 0.2,
    }
    try:
        async with httpx.AsyncClient(timeout=settings.llm_timeout_seconds) as client:
            resp = await client.post(url, json=body, headers=headers)
            resp.raise_for_status()
            content = resp.json()["choices"][0]["message"]["content"]
            data = json.loads(content)
            return data if isinstance(data, dict) else None
    except (httpx.HTTPError, KeyError, IndexError, TypeError, ValueError) as exc:
        logger.warning("LLM call failed, using the deterministic result: %s", exc)
        return None


async def rewrite_answer(settings: Settings, query: str, result: dict[str, Any]) -> dict[str, Any]:
    """Ask the model for a prose answer grounded in the retrieved quotes; keep patterns/evidence."""
    quotes = "\n".join(f"- {p['claim']}" for p in result.get("patterns", [])[:12])
    data = await chat_json(
        settings,
        "You answer questions about interview research. Use only the quotes given. Reply as JSON "
        '{"answer": "..."} in plain prose, citing participants only as they are named in the quotes.',
        f"Question: {query}\n\nExtractive answer:\n{result['answer']}\n\nQuotes:\n{quotes}",
    )
    answer = data.get("answer") if data else None
    if isinstance(answer, str) and answer.strip():
        result = {**result, "answer": answer.strip() + "\n\n" + result["answer"], "answered_by": "llm"}
    return result


async def improve_synthesis(settings: Settings, outputs: dict[str, Any]) -> None:
    """Better process names and a prose campaign summary, when the model replies sensibly."""
    processes = outputs["cartography"]["processes"]
    listing = [{"id": p["id"], "name": p["name"], "quotes": [e["quote"] for e in p["evidence"][:3]]} for p in processes]
    data = await chat_json(
        settings,
        'You are a user researcher. Reply as JSON {"names": {process_id: short process name}, '
        '"summary": "one paragraph"}. Name each process as a researcher would (verb-noun, 2-6 words).',
        json.dumps({"summary": outputs.get("summary"), "processes": listing})[:12000],
    )
    if not data:
        return
    names = data.get("names")
    if isinstance(names, dict):
        for p in processes:
            new = names.get(p["id"])
            if isinstance(new, str) and 2 <= len(new) <= 120:
                p["name"] = new.strip()
    summary = data.get("summary")
    if isinstance(summary, str) and summary.strip():
        outputs["summary"] = summary.strip()
