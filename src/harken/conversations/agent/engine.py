"""The offline interview agent: deterministic, fast, domain-agnostic.

Topics are coverage targets, not a script. Each topic has facets (its sub-topics and its
questions); a facet is covered when the respondent gives a real answer to it, or talks about a
sub-topic unprompted. The agent:

- opens with the campaign's goal and context and asks about the person's role;
- visits topics by priority (required > important > optional), giving each a share of the
  interview's time in proportion to its priority;
- follows up on what the person just said, quoting a salient phrase of the answer (walk me through
  the last time, why it matters, what goes wrong, how you work around it, which tools);
- handles empty, one-word, "don't know", off-topic and hostile answers without repeating itself;
- estimates elapsed time from the words exchanged (and the real clock, with idle gaps capped) and
  closes when required topics reach their threshold and time or topics run out.

The state is a JSON-able dict stored on the conversation between turns; every method is pure
(state in, new state out), so the same agent serves any number of conversations.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from harken.conversations.agent import text as T
from harken.conversations.agent.context import InterviewContext, TopicSpec
from harken.conversations.agent.phrases import Phrases

STATE_VERSION = 1
WORDS_PER_MINUTE = 50.0  # calibrated on real interview transcripts (words exchanged / duration)
IDLE_CAP_SECONDS = 180.0
MAX_TURN_WORDS = 200  # a pause longer than this does not count as interview time
WRAP_UP_AT = 0.85  # share of the duration after which no new optional work starts
FOLLOW_UP_BUDGET = {"required": 3, "important": 2, "optional": 1}
MAX_CONSECUTIVE_FOLLOW_UPS = 2
OFF_TOPIC_MIN_WORDS = 10
LOW_INFO_LIMIT = 2


@dataclass
class AgentTurn:
    """One agent message plus the state to store for the next turn."""

    text: str
    state: dict[str, Any]
    done: bool
    coverage: dict[str, float]
    progress: float
    # What the turn is for (move, topic, phrase, ...): lets a language model reword it safely.
    intent: dict[str, Any] = field(default_factory=dict)


def _parse_at(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def estimate_minutes(transcript: list[dict[str, Any]]) -> float:
    """Interview time so far: the larger of a words-based estimate and the clock (idle gaps capped)."""
    # A pasted essay is not 40 minutes of interview: one turn counts for at most MAX_TURN_WORDS words.
    words = sum(min(MAX_TURN_WORDS, T.word_count(t.get("text") or "")) for t in transcript)
    by_words = words / WORDS_PER_MINUTE
    clock = 0.0
    previous: datetime | None = None
    for turn in transcript:
        at = _parse_at(turn.get("at"))
        if at is not None and previous is not None:
            clock += min(IDLE_CAP_SECONDS, max(0.0, (at - previous).total_seconds()))
        previous = at or previous
    return max(by_words, clock / 60.0)


class OfflineAgent:
    """The deterministic interview agent."""

    name = "offline"

    # -- public API --------------------------------------------------------------------------

    def opening(self, ctx: InterviewContext) -> AgentTurn:
        p = Phrases(ctx.language)
        state = self._initial_state(ctx, p.code)
        parts = [p.get("greeting").format(name=ctx.contact_name) if ctx.contact_name else p.get("greeting_anonymous")]
        if ctx.goal:
            parts.append(p.get("purpose").format(campaign=ctx.campaign_name, goal=_sentence(ctx.goal)))
        if ctx.context:
            parts.append(p.get("context").format(context=_sentence(ctx.context)))
        parts.append(p.get("ground_rules").format(minutes=ctx.duration_minutes))
        question = p.get("role_question")
        self._remember(state, question)
        parts.append(question)
        state["pending"] = {"type": "role", "topic": None}
        state["agent_turns"] = 1
        return self._turn(ctx, state, " ".join(parts), [], done=False, intent={"move": "opening"})

    def respond(
        self,
        ctx: InterviewContext,
        state: dict[str, Any],
        transcript: list[dict[str, Any]],
        answer: str,
    ) -> AgentTurn:
        """The next agent turn after the respondent's `answer` (`transcript` includes it)."""
        state = copy.deepcopy(state) if state.get("v") == STATE_VERSION else self._initial_state(ctx, ctx.language)
        p = Phrases(state.get("lang") or ctx.language)
        state["agent_turns"] = state.get("agent_turns", 0) + 1
        kind = T.classify(answer)
        pending = state.get("pending") or {"type": "none", "topic": None}
        elapsed = estimate_minutes(transcript)
        state["elapsed"] = round(elapsed, 2)

        if pending["type"] == "wrap_up" or state.get("phase") == "closed":
            return self._close(ctx, state, transcript, p)

        # Anything the person said can cover sub-topics, whatever was asked.
        if kind.kind == "substantive":
            self._mark_mentions(ctx, state, answer)

        if kind.kind == "empty":
            state["strikes"]["empty"] += 1
            state["strikes"]["short"] = 0
            if state["strikes"]["empty"] == 1:
                nudges = p.get("empty")
                text = nudges[state["nudges"] % len(nudges)]
                state["nudges"] += 1
                return self._turn(ctx, state, text, transcript, intent={"move": "nudge"})
            return self._advance(
                ctx,
                state,
                transcript,
                p,
                elapsed,
                prefix=p.pick("skip_ack", state["agent_turns"]),
                allow_follow_up=False,
            )
        state["strikes"]["empty"] = 0

        if kind.kind == "hostile":
            state["strikes"]["hostile"] += 1
            state["strikes"]["short"] = 0
            if state["strikes"]["hostile"] >= 3:
                return self._close(ctx, state, transcript, p)
            apologies = p.get("hostile")
            prefix = apologies[(state["strikes"]["hostile"] - 1) % len(apologies)]
            if state["strikes"]["hostile"] >= 2 and state.get("current"):
                self._finish_topic(state, state["current"])
            return self._advance(ctx, state, transcript, p, elapsed, prefix=prefix, allow_follow_up=False)

        if kind.kind == "low_info":
            # "Not much to say about that": the facet was explored; nothing to follow up on.
            state["strikes"]["short"] = 0
            self._credit_pending(state)
            current = state.get("current")
            if current:
                ts = state["topics"][current]
                ts["low_info"] = ts.get("low_info", 0) + 1
                topic = ctx.topic(current)
                if ts["low_info"] >= LOW_INFO_LIMIT and topic is not None and topic.priority != "required":
                    # Two "not my area" answers in a row: not this person's topic; use the time elsewhere.
                    self._finish_topic(state, current, "not_relevant")
            return self._advance(
                ctx,
                state,
                transcript,
                p,
                elapsed,
                prefix=p.pick("skip_ack", state["agent_turns"]),
                allow_follow_up=False,
            )

        if kind.kind == "skip":
            state["strikes"]["short"] = 0
            return self._advance(
                ctx,
                state,
                transcript,
                p,
                elapsed,
                prefix=p.pick("skip_ack", state["agent_turns"]),
                allow_follow_up=False,
            )

        if kind.kind == "short":
            state["strikes"]["short"] += 1
            if state["strikes"]["short"] == 1 and pending["type"] != "role":
                for variant in p.get("elaborate"):
                    if self._fresh(state, variant):
                        self._remember(state, variant)
                        return self._turn(ctx, state, variant, transcript, intent={"move": "elaborate"})
            state["strikes"]["short"] = 0
            self._credit_pending(state)
            prefix = p.pick("skip_ack", state["agent_turns"])
            return self._advance(ctx, state, transcript, p, elapsed, prefix=prefix, allow_follow_up=False)

        # A real answer.
        if state.get("current"):
            state["topics"][state["current"]]["low_info"] = 0
        state["strikes"]["short"] = 0
        state["strikes"]["hostile"] = max(0, state["strikes"]["hostile"] - 1)
        state["substantive_answers"] = state.get("substantive_answers", 0) + 1
        off_topic = self._is_off_topic(ctx, state, answer, kind)
        if not off_topic:
            self._credit_pending(state)
        acks = p.get("ack_rich") if kind.words >= 60 else p.get("ack")
        ack = acks[state["agent_turns"] % len(acks)]
        if off_topic:
            return self._advance(
                ctx, state, transcript, p, elapsed, prefix=p.get("off_topic"), allow_follow_up=False, steer=True
            )
        return self._advance(ctx, state, transcript, p, elapsed, prefix=ack, allow_follow_up=True, answer=answer)

    def closing(self, ctx: InterviewContext, state: dict[str, Any], transcript: list[dict[str, Any]]) -> AgentTurn:
        """The closing turn when the respondent ends the interview themselves."""
        state = copy.deepcopy(state) if state.get("v") == STATE_VERSION else self._initial_state(ctx, ctx.language)
        return self._close(ctx, state, transcript, Phrases(state.get("lang") or ctx.language))

    def coverage(self, ctx: InterviewContext, state: dict[str, Any]) -> dict[str, float]:
        return {t.id: round(self._topic_coverage(t, state), 3) for t in ctx.topics}

    def progress(self, ctx: InterviewContext, state: dict[str, Any], done: bool = False) -> float:
        if done:
            return 1.0
        topics = ctx.topics
        if not topics:
            cov_progress = 0.0
        else:
            total = sum(t.weight for t in topics)
            cov_progress = (
                sum(t.weight * min(1.0, self._topic_coverage(t, state) / t.threshold) for t in topics) / total
            )
        time_progress = min(1.0, float(state.get("elapsed", 0.0)) / max(1, ctx.duration_minutes))
        return round(min(0.95, max(cov_progress, time_progress)), 3)

    # -- state -------------------------------------------------------------------------------

    def _initial_state(self, ctx: InterviewContext, lang: str) -> dict[str, Any]:
        return {
            "v": STATE_VERSION,
            "lang": lang,
            "phase": "interview",
            "order": [t.id for t in ctx.ordered_topics],
            "current": None,
            "topics": {
                t.id: {
                    "started": False,
                    "done": False,
                    "asked_q": [],
                    "covered_q": [],
                    "asked_sub": [],
                    "covered_sub": [],
                    "follow_ups": [],
                    "turns": 0,
                    "budget": 0,
                    "chain": 0,
                }
                for t in ctx.topics
            },
            "asked": [],
            "used_phrases": [],
            "pending": None,
            "strikes": {"empty": 0, "short": 0, "hostile": 0},
            "nudges": 0,
            "agent_turns": 0,
            "elapsed": 0.0,
        }

    def _fresh(self, state: dict[str, Any], question: str) -> bool:
        return T.normalize_question(question) not in state["asked"]

    def _remember(self, state: dict[str, Any], question: str) -> None:
        state["asked"].append(T.normalize_question(question))

    def _topic_coverage(self, topic: TopicSpec, state: dict[str, Any]) -> float:
        ts = state.get("topics", {}).get(topic.id)
        if not ts:
            return 0.0
        if not topic.sub_topics and not topic.questions:
            return 1.0 if ts["turns"] >= 2 else 0.5 * min(1, ts["turns"])
        covered = len(set(ts["covered_sub"])) + len(set(ts["covered_q"]))
        return min(1.0, covered / topic.facet_count)

    def _mark_mentions(self, ctx: InterviewContext, state: dict[str, Any], answer: str) -> None:
        stems = T.content_stems(answer)
        for topic in ctx.topics:
            ts = state["topics"][topic.id]
            for i, sub in enumerate(topic.sub_topics):
                if i in ts["covered_sub"]:
                    continue
                sub_stems = T.content_stems(sub)
                if sub_stems and len(sub_stems & stems) / len(sub_stems) >= 0.5:
                    ts["covered_sub"].append(i)

    def _credit_pending(self, state: dict[str, Any]) -> None:
        pending = state.get("pending") or {}
        topic_id = pending.get("topic")
        if not topic_id or topic_id not in state["topics"]:
            return
        ts = state["topics"][topic_id]
        if pending["type"] == "question" and pending["ref"] not in ts["covered_q"]:
            ts["covered_q"].append(pending["ref"])
        elif pending["type"] == "sub_topic" and pending["ref"] not in ts["covered_sub"]:
            ts["covered_sub"].append(pending["ref"])

    def _is_off_topic(self, ctx: InterviewContext, state: dict[str, Any], answer: str, kind: T.AnswerKind) -> bool:
        pending = state.get("pending") or {}
        if pending.get("type") in {"role", "follow_up", None} or kind.words < OFF_TOPIC_MIN_WORDS:
            return False
        if kind.pain or kind.tool or kind.steps:
            return False
        topic = ctx.topic(pending.get("topic") or "")
        if topic is None:
            return False
        vocabulary = T.content_stems(
            " ".join([topic.name, topic.goal, *topic.sub_topics, *(q.text for q in topic.questions)])
        )
        vocabulary |= T.content_stems(ctx.goal)
        return not (T.content_stems(answer) & vocabulary)

    def _has_unasked(self, topic: TopicSpec, ts: dict[str, Any]) -> bool:
        if any(i not in ts["asked_q"] for i in range(len(topic.questions))):
            return True
        return any(i not in ts["asked_sub"] and i not in ts["covered_sub"] for i in range(len(topic.sub_topics)))

    def _finish_topic(self, state: dict[str, Any], topic_id: str, reason: str = "exhausted") -> None:
        state["topics"][topic_id]["done"] = True
        state["topics"][topic_id]["reason"] = reason
        if state.get("current") == topic_id:
            state["current"] = None

    # -- moves -------------------------------------------------------------------------------

    def _advance(
        self,
        ctx: InterviewContext,
        state: dict[str, Any],
        transcript: list[dict[str, Any]],
        p: Phrases,
        elapsed: float,
        *,
        prefix: str = "",
        allow_follow_up: bool,
        answer: str = "",
        steer: bool = False,
    ) -> AgentTurn:
        duration = max(1, ctx.duration_minutes)
        if elapsed >= duration:
            return self._close(ctx, state, transcript, p)
        late = elapsed >= WRAP_UP_AT * duration
        current = ctx.topic(state.get("current") or "")

        if current is not None:
            ts = state["topics"][current.id]
            ts["turns"] += 1
            reached = self._topic_coverage(current, state) >= current.threshold
            over_budget = ts["turns"] >= ts["budget"]
            if late and (current.priority != "required" or reached):
                self._finish_topic(state, current.id, "time")
            elif over_budget and (reached or current.priority != "required" or ts["turns"] >= ts["budget"] + 2):
                self._finish_topic(state, current.id, "budget")
            else:
                move = None
                if allow_follow_up and not late:
                    move = self._follow_up(current, state, p, answer)
                if move is None:
                    ts["chain"] = 0
                    move = self._next_facet(current, state, p, only_required=reached and late)
                if move is not None:
                    text, intent = move
                    if steer:
                        text = f"{p.get('steer_back').format(topic=current.name)} {text}"
                    return self._turn(ctx, state, _join(prefix, text), transcript, intent=intent)
                self._finish_topic(state, current.id)

        # Pick the next topic.
        for topic_id in state["order"]:
            topic = ctx.topic(topic_id)
            ts = state["topics"].get(topic_id)
            if topic is None or ts is None or ts["done"]:
                continue
            if late and topic.priority != "required":
                continue
            if topic.priority == "optional" and elapsed >= 0.75 * duration:
                continue
            move = self._enter_topic(ctx, topic, state, p, elapsed, late=late)
            if move is None:
                ts["done"] = True
                continue
            text, intent = move
            return self._turn(ctx, state, _join(prefix, text), transcript, intent=intent)

        # Time left: go back to topics cut short by their time share that are still under target.
        if not late:
            for topic_id in state["order"]:
                topic = ctx.topic(topic_id)
                ts = state["topics"].get(topic_id)
                if topic is None or ts is None or ts.get("reason") != "budget" or ts.get("reopened"):
                    continue
                if topic.priority == "optional" or elapsed >= 0.75 * duration:
                    continue
                if self._topic_coverage(topic, state) >= topic.threshold and not self._has_unasked(topic, ts):
                    continue
                ts["done"], ts["reopened"] = False, True
                move = self._enter_topic(ctx, topic, state, p, elapsed, late=False, resumed=True)
                if move is None:
                    self._finish_topic(state, topic_id)
                    continue
                text, intent = move
                return self._turn(ctx, state, _join(prefix, text), transcript, intent=intent)

        # Every topic handled: one open question, then close.
        wrap = p.get("wrap_up_question")
        if self._fresh(state, wrap) and elapsed < duration:
            self._remember(state, wrap)
            state["pending"] = {"type": "wrap_up", "topic": None}
            state["current"] = None
            return self._turn(ctx, state, _join(prefix, wrap), transcript, intent={"move": "wrap_up"})
        return self._close(ctx, state, transcript, p)

    def _enter_topic(
        self,
        ctx: InterviewContext,
        topic: TopicSpec,
        state: dict[str, Any],
        p: Phrases,
        elapsed: float,
        *,
        late: bool,
        resumed: bool = False,
    ) -> tuple[str, dict[str, Any]] | None:
        ts = state["topics"][topic.id]
        state["current"] = topic.id
        ts["started"] = True
        ts["turns"] = 0
        ts["chain"] = 0
        # Share of the remaining time, by priority weight, in exchanges of ~1.6 minutes.
        remaining = [
            t for t in (ctx.topic(i) for i in state["order"]) if t is not None and not state["topics"][t.id]["done"]
        ]
        total_weight = sum(t.weight for t in remaining) or 1.0
        minutes_left = max(0.0, ctx.duration_minutes - elapsed - 1.5)
        exchanges_left = minutes_left / self._minutes_per_exchange(state, elapsed)
        ts["budget"] = max(2, round(exchanges_left * topic.weight / total_weight))
        move = self._next_facet(topic, state, p, only_required=late)
        if move is None:
            return None
        text, intent = move
        intros = p.get("topic_intro")
        started = sum(1 for t in state["topics"].values() if t["started"])
        intro = intros[(started - 1) % len(intros)]
        if resumed:
            lead = p.get("steer_back").format(topic=_lower_first(topic.name))
        else:
            lead = p.get("time_note") if late else intro.format(topic=_lower_first(topic.name))
        intent["entered_topic"] = True
        return _join(lead, text), intent

    def _minutes_per_exchange(self, state: dict[str, Any], elapsed: float) -> float:
        exchanges = state.get("agent_turns", 1) - 1
        if exchanges < 3:  # the opening weighs too much early on
            return 1.6
        return min(2.5, max(1.0, elapsed / exchanges))

    def _next_facet(
        self, topic: TopicSpec, state: dict[str, Any], p: Phrases, *, only_required: bool = False
    ) -> tuple[str, dict[str, Any]] | None:
        ts = state["topics"][topic.id]
        # Campaign questions: required ones first, in their order.
        order = sorted(range(len(topic.questions)), key=lambda i: (not topic.questions[i].required, i))
        for i in order:
            if i in ts["asked_q"]:
                continue
            question = topic.questions[i]
            if only_required and not question.required:
                continue
            ts["asked_q"].append(i)
            rendered = question.render()
            if not self._fresh(state, rendered):
                continue
            self._remember(state, rendered)
            state["pending"] = {"type": "question", "topic": topic.id, "ref": i}
            return rendered, {"move": "question", "topic": topic.name, "question": rendered}
        if only_required:
            return None
        # Sub-topics nobody has talked about yet.
        for i, sub in enumerate(topic.sub_topics):
            if i in ts["covered_sub"] or i in ts["asked_sub"]:
                continue
            ts["asked_sub"].append(i)
            variants = p.get("sub_topic_question")
            for k in range(len(variants)):
                candidate = variants[(i + k) % len(variants)].format(sub_topic=_lower_first(sub))
                if self._fresh(state, candidate):
                    self._remember(state, candidate)
                    state["pending"] = {"type": "sub_topic", "topic": topic.id, "ref": i}
                    return candidate, {
                        "move": "sub_topic",
                        "topic": topic.name,
                        "sub_topic": sub,
                        "question": candidate,
                    }
        # A topic with no questions and no sub-topics: one generic question.
        if not topic.questions and not topic.sub_topics and ts["turns"] == 0:
            candidate = p.get("topic_generic_question").format(topic=_lower_first(topic.name))
            if self._fresh(state, candidate):
                self._remember(state, candidate)
                state["pending"] = {"type": "generic", "topic": topic.id, "ref": 0}
                return candidate, {"move": "question", "topic": topic.name, "question": candidate}
        return None

    def _follow_up(
        self, topic: TopicSpec, state: dict[str, Any], p: Phrases, answer: str
    ) -> tuple[str, dict[str, Any]] | None:
        ts = state["topics"][topic.id]
        if len(ts["follow_ups"]) >= FOLLOW_UP_BUDGET.get(topic.priority, 2):
            return None
        if ts["chain"] >= MAX_CONSECUTIVE_FOLLOW_UPS:
            return None
        kind = T.classify(answer)
        last_question = state.get("last_question") or ""
        avoid = T.content_stems(last_question) | T.content_stems(topic.name)
        used = set(state["used_phrases"])
        phrases = [ph for ph in T.salient_phrases(answer, avoid=avoid, limit=8) if ph.text.lower() not in used]
        if kind.pain:
            kinds = ["impact", "workaround", "walkthrough", "why", "ideal", "tools"]
        elif kind.tool:
            kinds = ["problems", "walkthrough", "why", "ideal"]
        elif kind.steps:
            kinds = ["problems", "tools", "why", "ideal"]
        else:
            kinds = ["walkthrough", "problems", "why", "tools", "ideal"]
        # `impact` and `workaround` refer to the answer as a whole; the others quote a phrase.
        for follow_kind in kinds:
            if follow_kind in ts["follow_ups"]:
                continue
            needs_phrase = follow_kind not in {"impact", "workaround"}
            candidates = phrases if needs_phrase else [None]
            if needs_phrase and follow_kind == "tools":
                candidates = [ph for ph in phrases if not ph.tool] or phrases
            for phrase in candidates[:3]:
                for template in p.follow_ups(follow_kind):
                    text = template.format(phrase=phrase.text if phrase else "")
                    if not self._fresh(state, text):
                        continue
                    self._remember(state, text)
                    ts["follow_ups"].append(follow_kind)
                    ts["chain"] += 1
                    if phrase:
                        state["used_phrases"].append(phrase.text.lower())
                    state["pending"] = {"type": "follow_up", "topic": topic.id, "ref": follow_kind}
                    return text, {
                        "move": "follow_up",
                        "kind": follow_kind,
                        "topic": topic.name,
                        "phrase": phrase.text if phrase else None,
                        "question": text,
                    }
        return None

    def _close(
        self, ctx: InterviewContext, state: dict[str, Any], transcript: list[dict[str, Any]], p: Phrases
    ) -> AgentTurn:
        state["phase"] = "closed"
        state["pending"] = None
        state["current"] = None
        if ctx.closing_message:
            text = ctx.closing_message
        elif ctx.contact_name:
            text = p.get("closing").format(name=ctx.contact_name)
        else:
            text = p.get("closing_anonymous")
        return self._turn(ctx, state, text, transcript, done=True, intent={"move": "closing"})

    def _turn(
        self,
        ctx: InterviewContext,
        state: dict[str, Any],
        text: str,
        transcript: list[dict[str, Any]],
        *,
        done: bool = False,
        intent: dict[str, Any] | None = None,
    ) -> AgentTurn:
        intent = intent or {}
        if intent.get("question"):
            state["last_question"] = intent["question"]
        return AgentTurn(
            text=text,
            state=state,
            done=done,
            coverage=self.coverage(ctx, state),
            progress=self.progress(ctx, state, done),
            intent=intent,
        )


def _sentence(text: str) -> str:
    text = " ".join(text.split())
    return text if text.endswith((".", "!", "?")) else f"{text}."


def _lower_first(text: str) -> str:
    text = text.strip()
    if len(text) > 1 and text[0].isupper() and not text[1].isupper():
        return text[0].lower() + text[1:]
    return text


def _join(*parts: str) -> str:
    return " ".join(part.strip() for part in parts if part and part.strip())
