"""Optional language-model wording for the interview agent (any OpenAI-compatible endpoint).

The offline agent always decides what to ask (the move, the topic, the phrase to follow up on);
the model only rewords agent-written turns (follow-ups, sub-topic questions, nudges) so they flow
from what the person just said. Any failure (network, status, timeout, malformed or unsafe output)
falls back to the offline wording, so the model is never required for correctness.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import httpx

from harken.conversations.agent import text as T
from harken.conversations.agent.context import InterviewContext
from harken.conversations.agent.engine import AgentTurn
from harken.conversations.agent.phrases import LANGUAGES

logger = logging.getLogger("harken.agent.llm")

REWORDABLE_MOVES = {"follow_up", "sub_topic", "elaborate"}
MAX_CHARS = 500


class LLMError(Exception):
    pass


class ChatClient:
    """A minimal `/chat/completions` client."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None,
        model: str,
        timeout: float,
        failure_limit: int = 3,
        cooldown_seconds: float = 60.0,
    ) -> None:
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.api_key = api_key
        self.model = model
        self.timeout = timeout
        # Circuit breaker: after `failure_limit` failures in a row, respondents stop waiting on a
        # dead backend for `cooldown_seconds` (the offline wording is used meanwhile).
        self.failure_limit = failure_limit
        self.cooldown_seconds = cooldown_seconds
        self.failures = 0
        self.open_until = 0.0

    @property
    def available(self) -> bool:
        return time.monotonic() >= self.open_until

    def record(self, ok: bool) -> None:
        if ok:
            self.failures = 0
            return
        self.failures += 1
        if self.failures >= self.failure_limit:
            self.open_until = time.monotonic() + self.cooldown_seconds
            self.failures = 0
            logger.warning("llm backend failing; offline wording for %.0f s", self.cooldown_seconds)

    async def complete(self, messages: list[dict[str, str]], *, max_tokens: int = 160, temperature: float = 0.3) -> str:
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        body = {"model": self.model, "messages": messages, "max_tokens": max_tokens, "temperature": temperature}
        try:
            async with httpx.AsyncClient(timeout=self.timeout, follow_redirects=False) as client:
                response = await client.post(self.url, json=body, headers=headers)
        except httpx.HTTPError as exc:
            raise LLMError(f"request failed: {exc.__class__.__name__}") from exc
        if response.status_code != 200:
            raise LLMError(f"status {response.status_code}")
        try:
            content = response.json()["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise LLMError("malformed response") from exc
        if not isinstance(content, str):
            raise LLMError("malformed response")
        return content


def _language_name(code: str) -> str:
    return {"en": "English", "fr": "French", "de": "German", "es": "Spanish", "nl": "Dutch"}.get(code, "English")


def build_messages(ctx: InterviewContext, turn: AgentTurn, answer: str, asked: list[str]) -> list[dict[str, str]]:
    intent = turn.intent
    lang = turn.state.get("lang") or "en"
    system = (
        "You are a warm, neutral research interviewer in a text chat. Rewrite the interviewer's draft "
        "message so it follows naturally from the participant's last answer. Keep its intent exactly: "
        f"move={intent.get('move')}, kind={intent.get('kind')}, topic={intent.get('topic')!r}, "
        f"phrase={intent.get('phrase')!r}. Write one or two short sentences with exactly one question, "
        f"in {_language_name(lang)}. Never lead the participant, never give opinions, never repeat an "
        "earlier question. Reply with the message only."
    )
    if ctx.agent_behavior:
        system += f" The researcher's guidance for the interviewer: {ctx.agent_behavior[:1000]}"
    recent = "\n".join(f"- {q}" for q in asked[-12:])
    user = (
        f"Research goal: {ctx.goal}\n"
        f"Participant's last answer: {answer[:2000]}\n"
        f"Draft message: {turn.text}\n"
        f"Earlier questions (do not repeat):\n{recent}"
    )
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def acceptable(candidate: str, turn: AgentTurn) -> str | None:
    """The cleaned model output if it is safe to use, else None."""
    text = " ".join((candidate or "").strip().strip('"').split())
    if not text or len(text) > MAX_CHARS:
        return None
    if "?" in turn.text and "?" not in text:
        return None
    lowered = text.lower()
    if any(bad in lowered for bad in ("as an ai", "language model", "i cannot", "draft message")):
        return None
    normalized = T.normalize_question(text)
    if normalized in set(turn.state.get("asked", [])[:-1]):
        return None
    return text


async def reword(client: ChatClient, ctx: InterviewContext, turn: AgentTurn, answer: str) -> AgentTurn:
    """`turn` with model wording when that is possible and safe; `turn` unchanged otherwise."""
    if turn.done or turn.intent.get("move") not in REWORDABLE_MOVES or (turn.state.get("lang") not in LANGUAGES):
        return turn
    asked: list[Any] = turn.state.get("asked", [])
    if not client.available:
        return turn
    try:
        candidate = await client.complete(build_messages(ctx, turn, answer, asked))
    except LLMError as exc:
        client.record(ok=False)
        logger.warning("llm wording unavailable, using the offline wording: %s", exc)
        return turn
    except Exception:  # never let the optional backend break an interview
        client.record(ok=False)
        logger.exception("llm wording failed, using the offline wording")
        return turn
    client.record(ok=True)
    text = acceptable(candidate, turn)
    if text is None:
        logger.warning("llm wording rejected, using the offline wording")
        return turn
    state = dict(turn.state)
    state["asked"] = [*asked, T.normalize_question(text)]
    state["llm_turns"] = int(state.get("llm_turns", 0)) + 1
    return AgentTurn(
        text=text,
        state=state,
        done=turn.done,
        coverage=turn.coverage,
        progress=turn.progress,
        intent={**turn.intent, "worded_by": "llm"},
    )
