"""What the agent knows about an interview: the campaign, its topics and the contact."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PRIORITY_RANK = {"required": 0, "important": 1, "optional": 2}
PRIORITY_WEIGHT = {"required": 3.0, "important": 2.0, "optional": 1.0}
DEFAULT_THRESHOLD = 0.7


@dataclass(frozen=True)
class QuestionSpec:
    text: str
    required: bool = True
    question_type: str = "open_ended"
    options: tuple[str, ...] = ()

    def render(self) -> str:
        text = self.text.strip()
        if self.options and self.question_type in {"single_choice", "multiple_choice", "ranking", "likert_scale"}:
            text = f"{text} ({', '.join(self.options)})"
        return text


@dataclass(frozen=True)
class TopicSpec:
    id: str
    name: str
    goal: str = ""
    priority: str = "important"
    threshold: float = DEFAULT_THRESHOLD
    sub_topics: tuple[str, ...] = ()
    questions: tuple[QuestionSpec, ...] = ()
    sort_order: int = 0

    @property
    def rank(self) -> int:
        return PRIORITY_RANK.get(self.priority, 1)

    @property
    def weight(self) -> float:
        return PRIORITY_WEIGHT.get(self.priority, 2.0)

    @property
    def facet_count(self) -> int:
        return len(self.sub_topics) + len(self.questions) or 1


@dataclass(frozen=True)
class InterviewContext:
    campaign_name: str
    goal: str = ""
    context: str = ""
    duration_minutes: int = 30
    language: str = "en"
    contact_name: str | None = None
    closing_message: str | None = None
    agent_behavior: str | None = None
    topics: tuple[TopicSpec, ...] = field(default_factory=tuple)

    @property
    def ordered_topics(self) -> list[TopicSpec]:
        return sorted(self.topics, key=lambda t: (t.rank, t.sort_order))

    def topic(self, topic_id: str) -> TopicSpec | None:
        return next((t for t in self.topics if t.id == topic_id), None)

    @classmethod
    def from_models(cls, campaign: Any, question_sets: list[Any], contact: Any | None) -> InterviewContext:
        topics = [topic_from_question_set(qs) for qs in question_sets]
        first_name = None
        if contact is not None and getattr(contact, "name", None) and not (campaign.options or {}).get("is_anonymous"):
            first_name = contact.name.strip().split()[0] if contact.name.strip() else None
        return cls(
            campaign_name=campaign.name,
            goal=(campaign.goal or campaign.description or "").strip(),
            context=(campaign.interview_context_for_employee or campaign.project_context or "").strip(),
            duration_minutes=int(campaign.interview_duration_minutes or 30),
            language=campaign.default_language or "en",
            contact_name=first_name,
            closing_message=(campaign.closing_message or "").strip() or None,
            agent_behavior=campaign.agent_behavior,
            topics=tuple(topics),
        )


def _threshold(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return DEFAULT_THRESHOLD
    if number > 1:  # given as a percentage
        number /= 100
    return min(1.0, max(0.05, number))


def topic_from_question_set(qs: Any) -> TopicSpec:
    meta = qs.topic_metadata or {}
    questions = []
    for q in sorted(qs.questions or [], key=lambda q: q.get("sort_order") or 0):
        text = (q.get("question_text") or q.get("text") or "").strip()
        if not text:
            continue
        questions.append(
            QuestionSpec(
                text=text,
                required=bool(q.get("is_required", q.get("required", True))),
                question_type=q.get("question_type") or q.get("type") or "open_ended",
                options=tuple(str(o.get("label", o) if isinstance(o, dict) else o) for o in q.get("options") or []),
            )
        )
    return TopicSpec(
        id=qs.id,
        name=qs.name,
        goal=(meta.get("goal") or qs.description or "").strip(),
        priority=meta.get("priority") or "important",
        threshold=_threshold(meta.get("success_threshold")),
        sub_topics=tuple(str(s).strip() for s in meta.get("sub_topics") or [] if str(s).strip()),
        questions=tuple(questions),
        sort_order=qs.sort_order or 0,
    )


def context_from_dict(campaign: dict[str, Any], *, contact_name: str | None = None) -> InterviewContext:
    """An `InterviewContext` from a campaign in the API's JSON shape (name, goal, topics[])."""
    topics = []
    for i, topic in enumerate(campaign.get("topics") or []):
        questions = tuple(
            QuestionSpec(
                text=(q.get("question_text") or q.get("text") or "").strip(),
                required=bool(q.get("is_required", q.get("required", True))),
                question_type=q.get("question_type") or q.get("type") or "open_ended",
                options=tuple(str(o) for o in q.get("options") or []),
            )
            for q in topic.get("questions") or []
            if (q.get("question_text") or q.get("text") or "").strip()
        )
        topics.append(
            TopicSpec(
                id=str(topic.get("id") or f"topic-{i + 1}"),
                name=topic["name"],
                goal=topic.get("goal") or "",
                priority=topic.get("priority") or "important",
                threshold=_threshold(topic.get("success_threshold")),
                sub_topics=tuple(topic.get("sub_topics") or ()),
                questions=questions,
                sort_order=i,
            )
        )
    return InterviewContext(
        campaign_name=campaign["name"],
        goal=campaign.get("goal") or "",
        context=campaign.get("interview_context_for_employee") or campaign.get("project_context") or "",
        duration_minutes=int(campaign.get("interview_duration_minutes") or 30),
        language=campaign.get("default_language") or "en",
        contact_name=contact_name,
        closing_message=campaign.get("closing_message"),
        topics=tuple(topics),
    )
