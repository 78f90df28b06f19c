"""The interview agent.

    agent = get_agent(settings)
    turn = await agent.opening(ctx)
    turn = await agent.respond(ctx, turn.state, transcript, answer)

`OfflineAgent` (deterministic, no network) decides every move. With `HARKEN_LLM_BASE_URL` and
`HARKEN_LLM_MODEL` set, `InterviewAgent` also asks an OpenAI-compatible model to reword the
agent-written questions, falling back to the offline wording on any error.
"""

from __future__ import annotations

from typing import Any

from harken.conversations.agent.context import InterviewContext, QuestionSpec, TopicSpec, context_from_dict
from harken.conversations.agent.engine import AgentTurn, OfflineAgent, estimate_minutes
from harken.conversations.agent.llm import ChatClient, reword
from harken.core.settings import Settings

__all__ = [
    "AgentTurn",
    "InterviewAgent",
    "InterviewContext",
    "OfflineAgent",
    "QuestionSpec",
    "TopicSpec",
    "context_from_dict",
    "estimate_minutes",
    "get_agent",
]


class InterviewAgent:
    """The agent behind the respondent channel (async: the optional model is called over HTTP)."""

    def __init__(self, llm: ChatClient | None = None) -> None:
        self.offline = OfflineAgent()
        self.llm = llm

    @property
    def calls_network(self) -> bool:
        """True when turns may wait on a remote model (never hold a transaction across them)."""
        return self.llm is not None

    @property
    def name(self) -> str:
        return f"offline+llm:{self.llm.model}" if self.llm else "offline"

    async def opening(self, ctx: InterviewContext) -> AgentTurn:
        return self.offline.opening(ctx)

    async def respond(
        self, ctx: InterviewContext, state: dict[str, Any], transcript: list[dict[str, Any]], answer: str
    ) -> AgentTurn:
        turn = self.offline.respond(ctx, state, transcript, answer)
        if self.llm is not None:
            turn = await reword(self.llm, ctx, turn, answer)
        return turn

    async def closing(
        self, ctx: InterviewContext, state: dict[str, Any], transcript: list[dict[str, Any]]
    ) -> AgentTurn:
        return self.offline.closing(ctx, state, transcript)

    def progress(self, ctx: InterviewContext, state: dict[str, Any], done: bool = False) -> float:
        return self.offline.progress(ctx, state, done)


def get_agent(settings: Settings) -> InterviewAgent:
    if settings.llm_base_url and settings.llm_model:
        client = ChatClient(
            settings.llm_base_url,
            api_key=settings.llm_api_key,
            model=settings.llm_model,
            # A respondent is waiting: never longer than 20 s for wording.
            timeout=min(settings.llm_timeout_seconds, 20.0),
        )
        return InterviewAgent(client)
    return InterviewAgent()
