"""The respondent channel: `/v1/respond/{token}` (the booking token is the credential).

These routes are public by design: the token in the path authenticates exactly one conversation
and nothing else. No API key, no workspace.
"""

from __future__ import annotations

from fastapi import APIRouter, Request

from harken.conversations import respondent_service as service
from harken.conversations.agent import InterviewAgent, get_agent
from harken.conversations.respondent_schemas import MessageIn, MessageOut, RespondentState
from harken.core.openapi import responses
from harken.core.session import DatabaseDep

router = APIRouter(prefix="/v1/respond", tags=["respondent"])


def agent_for(request: Request) -> InterviewAgent:
    agent = getattr(request.app.state, "interview_agent", None)
    if agent is None:
        agent = get_agent(request.app.state.settings)
        request.app.state.interview_agent = agent
    return agent


@router.get("/{token}", response_model=RespondentState, responses=responses(404, authenticated=False))
async def get_conversation(token: str, request: Request, db: DatabaseDep) -> RespondentState:
    """The interview as the respondent sees it: campaign texts, messages so far and progress (0 to 1).

    The first view opens the conversation: the agent's opening turn is already in `messages`.
    `accepting_messages` is false (with a `notice`) when the campaign is paused before the
    interview started, not yet open, closed, or the interview is completed.
    """
    return await service.get_state(db, token, agent_for(request))


@router.post("/{token}/messages", response_model=MessageOut, responses=responses(404, 409, authenticated=False))
async def post_message(token: str, body: MessageIn, request: Request, db: DatabaseDep) -> MessageOut:
    """Send the participant's answer; returns the agent's next turn.

    `reply` is the closing message when the agent ends the interview (`status: completed`).
    409 `conflict` when the interview is completed, or the campaign is paused (before the interview
    started), not open yet, or closed.
    """
    return await service.post_message(db, token, body.text, agent_for(request))


@router.post("/{token}/end", response_model=MessageOut, responses=responses(404, 409, authenticated=False))
async def end_conversation(token: str, request: Request, db: DatabaseDep) -> MessageOut:
    """End the interview now: the agent closes (`reply` is the closing message) and it completes.

    Ending an already completed interview returns its state with `reply: null`.
    """
    return await service.end(db, token, agent_for(request))
