"""Optional OpenAI-compatible pass over the questions the offline programmer was unsure about.

Only items flagged `attention` are sent. The model may change a question's type, nothing else; every
answer is validated (known type, consistent with the answers found) and any error falls back to the
offline result. Never required: without `HARKEN_LLM_BASE_URL` this module is not used.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

import httpx

from harken.core.settings import Settings
from harken.surveys.parsing.model import KINDS, Questionnaire

logger = logging.getLogger("harken.surveys.llm")
CHOICE_KINDS = {"single", "multi", "dropdown", "rank"}

PROMPT = (
    "You check a survey programmer's work. For each question, answer with the best question type from: "
    + ", ".join(KINDS)
    + '. Reply with JSON only: {"questions": [{"label": "...", "type": "..."}]}.'
)


async def refine(result: Questionnaire, settings: Settings) -> Questionnaire:
    # Items the programmer flagged, and types it had to guess (no instruction in the document).
    unsure = [q for q in result.questions if q.kind != "text" and (q.attention or not q.explicit_kind)]
    if not unsure or not settings.llm_base_url:
        return result
    items = [
        {
            "label": q.label,
            "text": q.text[:500],
            "current_type": q.kind,
            "options": [o.label for o in q.options][:30],
            "instructions": q.instructions[:5],
            "problem": "; ".join(q.attention),
        }
        for q in unsure[:40]
    ]
    try:
        answer = await _chat(settings, json.dumps({"questions": items}))
        proposals = _parse(answer)
    except Exception as exc:  # any failure keeps the offline result
        logger.warning("LLM refinement skipped: %s", exc)
        return result
    by_label = {q.label: q for q in unsure}
    for proposal in proposals:
        q = by_label.get(str(proposal.get("label")))
        kind = proposal.get("type")
        if q is None or kind not in KINDS or kind == q.kind:
            continue
        if kind in CHOICE_KINDS and len(q.options) < 2:
            continue
        if kind in ("grid_single", "grid_multi") and not (q.rows and q.columns):
            continue
        if kind in ("open", "numeric", "text", "scale") and q.options and q.kind in CHOICE_KINDS:
            continue
        q.kind = kind
        q.attention.append(f"Type set to {kind} by the language model")
    return result


async def _chat(settings: Settings, content: str) -> str:
    headers = {"Content-Type": "application/json"}
    if settings.llm_api_key:
        headers["Authorization"] = f"Bearer {settings.llm_api_key}"
    body: dict[str, Any] = {
        "model": settings.llm_model or "default",
        "messages": [{"role": "system", "content": PROMPT}, {"role": "user", "content": content}],
        "temperature": 0,
    }
    url = settings.llm_base_url.rstrip("/") + "/chat/completions"  # type: ignore[union-attr]
    async with httpx.AsyncClient(timeout=settings.llm_timeout_seconds) as client:
        response = await client.post(url, json=body, headers=headers)
        response.raise_for_status()
        return str(response.json()["choices"][0]["message"]["content"])


def _parse(answer: str) -> list[dict[str, Any]]:
    match = re.search(r"\{.*\}", answer, re.S)
    if not match:
        raise ValueError("no JSON object in the reply")
    data = json.loads(match.group(0))
    items = data.get("questions")
    if not isinstance(items, list):
        raise ValueError("reply has no questions list")
    return [i for i in items if isinstance(i, dict)]
