"""Simulated respondents: answer the interview agent from a profile of facts.

A profile holds what a person knows (their role, processes, pains, tools, motivations, opinions).
The simulator reveals a fact only when a question gives it a reason to: the question shares words
with the fact, or asks for that kind of fact (why → motivations; what goes wrong → pains; which
tools → tools; a quoted phrase → facts about the same thing). A person also volunteers something
now and then. So an interviewer that asks about more of the right things, and follows up, hears
more. Used by the tests, the `harken demo` command and `bench/agent.py`.

Deterministic: the same profile and questions give the same answers.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from typing import Any

from harken.conversations.agent import text as T

_QUOTED = re.compile(r"[\u201c\u00ab\u201e\"]\s*([^\u201d\u00bb\u201c\"]+?)\s*[\u201d\u00bb\u201c\"]")

INTENTS: dict[str, tuple[tuple[str, ...], dict[str, float]]] = {
    "why": (("why", "matter", "important", "at stake"), {"motivation": 2.5, "opinion": 1.0}),
    "ideal": (("change one thing", "better way", "if you could", "wish"), {"motivation": 2.0, "opinion": 2.0}),
    "problems": (
        ("wrong", "difficult", "slow", "stuck", "get in the way", "hold", "longer than", "frustrat", "problem"),
        {"pain": 2.5},
    ),
    "impact": (("cost", "consequence", "feels the", "stress"), {"pain": 2.0, "motivation": 1.0}),
    "workaround": (("work around", "meantime", "instead"), {"tool": 1.5, "pain": 1.0}),
    "tools": (("tool", "system", "software", "keep track", "document", "use to", "do you use"), {"tool": 2.5}),
    "walkthrough": (
        ("walk me through", "last time", "example", "step by step", "take me through"),
        {"process": 1.5, "pain": 1.5},
    ),
    "how": (("how do", "how does", "how is", "how are", "what happens", "tell me about"), {"process": 1.0}),
}
ROLE_CUES = ("your role", "typical week", "about yourself", "what you do")
WRAP_CUES = ("anything important", "anything else", "haven't covered", "anything we")
CLOSING_CUES = ("thank you so much", "thanks so much for your time", "thank you for your time")


@dataclass
class Fact:
    id: str
    kind: str  # process | pain | tool | motivation | opinion
    text: str  # what the person would say
    phrase: str  # the words they'd use (planted verbatim)
    about: str = ""  # related words: the process, category, tool name
    aliases: tuple[str, ...] = ()  # any of these in the transcript means the fact was said

    def __post_init__(self) -> None:
        if not self.aliases:
            self.aliases = (self.phrase.lower(),)
        self._stems = T.content_stems(f"{self.text} {self.phrase} {self.about}")

    @property
    def stems(self) -> set[str]:
        return self._stems


@dataclass
class Profile:
    name: str
    role: str
    department: str = ""
    facts: list[Fact] = field(default_factory=list)
    style: str = "normal"  # normal | terse | hostile | rambling
    volunteer_rate: float = 0.25

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Profile:
        facts = [
            Fact(
                id=str(f.get("id") or f"f{i}"),
                kind=f["kind"],
                text=f["text"],
                phrase=f.get("phrase") or f["text"],
                about=f.get("about", ""),
                aliases=tuple(a.lower() for a in f.get("aliases") or ()),
            )
            for i, f in enumerate(data.get("facts") or [])
        ]
        return cls(
            name=data["name"],
            role=data.get("role") or data.get("job_title") or "",
            department=data.get("department") or "",
            facts=facts,
            style=data.get("style", "normal"),
            volunteer_rate=float(data.get("volunteer_rate", 0.25)),
        )


class SimulatedRespondent:
    """Answers one interview from a profile."""

    def __init__(self, profile: Profile, *, seed: int | None = None) -> None:
        self.profile = profile
        self.revealed: list[str] = []
        self.turn = 0
        self.random = random.Random(seed if seed is not None else sum(map(ord, profile.name)))

    @property
    def remaining(self) -> list[Fact]:
        return [f for f in self.profile.facts if f.id not in self.revealed]

    def answer(self, question: str) -> str:
        self.turn += 1
        full = question
        question = _question_part(question)
        lowered = question.lower().replace("\u2019", "'")
        style = self.profile.style
        if style == "hostile" and self.turn <= 2:
            return ["This is a waste of my time.", "Honestly these questions are pointless."][self.turn - 1]
        if any(cue in full.lower() for cue in CLOSING_CUES) and "?" not in full:
            return ""
        if any(cue in lowered for cue in ROLE_CUES):
            intro = f"I'm the {self.profile.role}" + (
                f" in {self.profile.department}" if self.profile.department else ""
            )
            facts = self._pick(question, lowered, limit=1, minimum=0.0, kinds={"process"})
            return self._say([intro + "."], facts)
        if any(cue in lowered for cue in WRAP_CUES):
            facts = self._pick(question, lowered, limit=1, minimum=0.0, kinds={"pain", "motivation"})
            return self._say([], facts) if facts else "No, I think we covered the main things."
        if style == "terse" and self.random.random() < 0.3:
            return self.random.choice(["Yes.", "Not really.", "Fine.", "Sometimes."])
        limit = {"terse": 1, "rambling": 3}.get(style, 2)
        facts = self._pick(question, lowered, limit=limit, minimum=1.5)
        if not facts and self.remaining and self.random.random() < self.profile.volunteer_rate:
            facts = [self.random.choice(self.remaining)]
        if not facts:
            return self._filler(question)
        return self._say([], facts)

    # -- internals ---------------------------------------------------------------------------

    def _pick(
        self, question: str, lowered: str, *, limit: int, minimum: float, kinds: set[str] | None = None
    ) -> list[Fact]:
        q_stems = T.content_stems(question)
        quoted = [m.lower() for m in _QUOTED.findall(question)]
        quoted_stems = set().union(*(T.content_stems(q) for q in quoted)) if quoted else set()
        revealed_about = {f.about.lower() for f in self.profile.facts if f.id in self.revealed and f.about}
        weights: dict[str, float] = {}
        for cues, boosts in INTENTS.values():
            if any(c in lowered for c in cues):
                for kind, boost in boosts.items():
                    weights[kind] = max(weights.get(kind, 0.0), boost)
        scored: list[tuple[float, int, Fact]] = []
        for index, fact in enumerate(self.remaining):
            if kinds and fact.kind not in kinds:
                continue
            overlap = len(q_stems & fact.stems)
            score = overlap * 1.0 + weights.get(fact.kind, 0.0) * (1.0 if overlap else 0.5)
            if quoted_stems and quoted_stems & fact.stems:
                score += 2.0
            if fact.about and fact.about.lower() in revealed_about and quoted:
                score += 1.0
            if score >= minimum:
                scored.append((score, -index, fact))
        scored.sort(key=lambda item: (item[0], item[1]), reverse=True)
        return [fact for _, _, fact in scored[:limit]]

    def _say(self, lead: list[str], facts: list[Fact]) -> str:
        sentences = list(lead)
        for fact in facts:
            self.revealed.append(fact.id)
            sentences.append(_render(fact, self.random))
        if self.profile.style == "rambling":
            sentences.append("Anyway, that's how it goes most weeks, and everyone has their own way of doing it.")
        return " ".join(sentences)

    def _filler(self, question: str) -> str:
        words = T.content_words(question)
        thing = " ".join(words[:2]) if words else "that"
        return self.random.choice(
            [
                f"Honestly, {thing} is not a big part of my day, so I don't have much to add there.",
                f"I don't deal with {thing} much myself; other people handle most of it.",
                f"It mostly works. I can't think of anything about {thing} that stands out.",
            ]
        )


def _render(fact: Fact, rng: random.Random) -> str:
    text = fact.text.strip().rstrip(".")
    if text[:6].lower() == "wants ":
        text = "I want " + text[6:]
    elif text[:5].lower() == "needs":
        text = "I need" + text[5:]
    phrase = fact.phrase.strip()
    if fact.kind == "tool":
        body = f"We use {phrase} for a lot of it" if phrase.lower() in text.lower() else f"{text}, {phrase} mostly"
        return body + "."
    if fact.kind == "pain":
        lead = rng.choice(["The problem is,", "What goes wrong:", "Honestly,", "The frustrating part:"])
        return f"{lead} {_lower_first(text)}. In my words, {phrase}."
    if fact.kind == "motivation":
        return f"What matters to me: {_lower_first(text)}. Basically, {phrase}."
    if fact.kind == "opinion":
        return f"My view: {_lower_first(text)}. That's the {phrase} question."
    return f"{text}. We call it {phrase}."


def _question_part(text: str) -> str:
    """The sentence(s) that ask something (an agent turn may start with an acknowledgement)."""
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", text.strip()) if s]
    asking = [s for s in sentences if s.endswith("?")]
    if not asking:
        return text
    start = sentences.index(asking[-1])
    # Keep a preceding "You mentioned ..." sentence: it carries the quoted phrase.
    if start > 0 and _QUOTED.search(sentences[start - 1]):
        start -= 1
    return " ".join(sentences[start:])


def _lower_first(text: str) -> str:
    if len(text) > 1 and text[0].isupper() and not text[1].isupper():
        return text[0].lower() + text[1:]
    return text


def facts_mentioned(profile: Profile, participant_text: str) -> set[str]:
    """Ids of the profile's facts that appear (any alias) in what the participant said."""
    lowered = participant_text.lower()
    return {f.id for f in profile.facts if any(a and a in lowered for a in f.aliases)}


def profiles_from_truth(truth: dict[str, Any], campaign: dict[str, Any]) -> dict[str, Profile]:
    """One profile per contact ref of a labelled campaign (`truth.json` + `campaign.json`).

    Only benchmarks read labelled truth; product code never does.
    """
    processes = {p["id"]: p for p in truth.get("processes", [])}
    profiles: dict[str, Profile] = {}
    for contact in campaign.get("contacts", []):
        ref = contact["ref"]
        facts: list[Fact] = []
        for proc in truth.get("processes", []):
            if ref in proc.get("contacts", []):
                aliases = tuple(a.lower() for a in proc.get("aliases", []))
                facts.append(
                    Fact(
                        id=f"process:{proc['id']}",
                        kind="process",
                        text=f"{proc['name']} is part of my work ({proc.get('category', '')})",
                        phrase=aliases[0] if aliases else proc["name"],
                        about=f"{proc['name']} {proc.get('category', '')}",
                        aliases=aliases or (proc["name"].lower(),),
                    )
                )
        for pain in truth.get("pain_points", []):
            if pain.get("contact") == ref:
                proc = processes.get(pain.get("process") or "", {})
                aliases = tuple(a.lower() for a in pain.get("aliases", []))
                facts.append(
                    Fact(
                        id=f"pain:{pain['id']}",
                        kind="pain",
                        text=pain["summary"],
                        phrase=aliases[0] if aliases else pain["summary"],
                        about=f"{proc.get('name', '')} {proc.get('category', '')}".strip(),
                        aliases=aliases,
                    )
                )
        for i, motivation in enumerate(truth.get("motivations", [])):
            if motivation.get("contact") == ref:
                aliases = tuple(a.lower() for a in motivation.get("aliases", []))
                facts.append(
                    Fact(
                        id=f"motivation:{i}",
                        kind="motivation",
                        text=motivation["summary"],
                        phrase=aliases[0] if aliases else motivation["summary"],
                        aliases=aliases,
                    )
                )
        for tool in truth.get("tools", []):
            if ref in tool.get("contacts", []):
                aliases = tuple(a.lower() for a in tool.get("aliases", []))
                facts.append(
                    Fact(
                        id=f"tool:{tool['name']}",
                        kind="tool",
                        text=f"We rely on {tool['name']}",
                        phrase=aliases[0] if aliases else tool["name"],
                        about=tool["name"],
                        aliases=aliases or (tool["name"].lower(),),
                    )
                )
        for i, divergence in enumerate(truth.get("divergences", [])):
            if ref in divergence.get("contacts", []):
                aliases = tuple(a.lower() for a in divergence.get("aliases", []))
                facts.append(
                    Fact(
                        id=f"opinion:{i}",
                        kind="opinion",
                        text=divergence["summary"],
                        phrase=aliases[0] if aliases else divergence["summary"],
                        aliases=aliases,
                    )
                )
        profiles[ref] = Profile(
            name=contact["name"],
            role=contact.get("job_title") or "",
            department=contact.get("department") or "",
            facts=facts,
        )
    return profiles
