"""Per-conversation analysis: sentences with cues, chunks, tools, keyphrases, pain points.

Everything here is generic linguistics: sentence sentiment (VADER) plus small lexicons of
frustration and motivation cues, the interviewer's question as context, tool detection from
product-like capitalised tokens in usage contexts, and keyphrases from noun-phrase patterns.
Nothing depends on a particular domain's vocabulary.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Any

from harken.knowledge.nlp.text import STOPWORDS, chunk_turns, content_tokens, split_sentences, stem, words

# --- cue lexicons (generic English) -------------------------------------------------------------

FRUSTRATION_CUES = (
    "problem",
    "issue",
    "frustrat",
    "annoy",
    "hate",
    "slow",
    "delay",
    "wait",
    "stuck",
    "lost",
    "lose",
    "miss",
    "never",
    "nobody",
    "no one",
    "can't",
    "cannot",
    "couldn't",
    "don't know",
    "hard",
    "difficult",
    "pain",
    "manual",
    "by hand",
    "copy",
    "retyp",
    "broke",
    "broken",
    "fail",
    "wrong",
    "late",
    "behind",
    "mess",
    "chase",
    "chasing",
    "duplicate",
    "error",
    "worst",
    "waste",
    "too ",
    "without",
    "lapse",
    "expire",
    "risk",
    "complain",
    "gripe",
    "confus",
    "clunky",
    "tedious",
    "painful",
    "headache",
    "worr",
    "scary",
    "nightmare",
    "ugh",
    "unfortunately",
    "struggle",
    "blocked",
    "held up",
    "bottleneck",
    "not great",
    "doesn't work",
    "didn't work",
    "isn't",
    "no way",
    "no visibility",
    "nowhere",
    "ghost",
    "silently",
    "out of date",
    "stale",
    "outdated",
    "sat in",
    "queue",
    "weeks",
    "months",
    "ages",
    "forever",
    "overdue",
    "fall through",
    "slip",
    "guess",
    "trust",
    "angry",
    "upset",
    "fight",
    "argument",
    "only",
    "keeps",
    "again",
    "twice",
    "nobody told",
    "no idea",
    "surprise",
    "the problem",
    "the thing that",
    "biggest",
    "the issue",
    "gripe",
    "don't have",
    "there isn't",
    "there's no",
    "no one",
    "not a",
    "instead of",
    "have to",
    "had to",
    "every time",
    "half the time",
)
MOTIVATION_CUES = (
    "i want",
    "i'd like",
    "i would like",
    "i'd love",
    "i would love",
    "i wish",
    "i hope",
    "hoping",
    "my goal",
    "the goal",
    "what matters",
    "matters most",
    "matters to me",
    "important to me",
    "i care",
    "care about",
    "proud",
    "so that",
    "i'd rather",
    "ideally",
    "if i could",
    "dream",
    "career",
    "someday",
    "eventually",
    "next step",
    "aim",
    "looking forward",
    "i love",
    "enjoy",
    "what i want",
    "all i want",
    "i just want",
    "i need",
    "we need",
    "would be great",
    "would make",
    "would help",
    "the point",
    "for me",
    "really want",
    "want to be",
    "want to get",
    "want to see",
    "wants",
    "motivat",
    "purpose",
    "satisf",
    "rewarding",
    "best part",
    "favorite",
    "favourite",
)
FRUSTRATION_QUESTION_CUES = (
    "wrong",
    "frustrat",
    "problem",
    "slow",
    "stuck",
    "hard",
    "get in the way",
    "held up",
    "hold up",
    "pain",
    "difficult",
    "break",
    "fail",
    "annoy",
    "worst",
    "challenge",
    "longer than",
    "stall",
    "risk",
    "miss",
    "delay",
    "issue",
    "gripe",
    "complain",
)
MOTIVATION_QUESTION_CUES = (
    "matter",
    "motivat",
    "important to you",
    "goal",
    "success",
    "ideal",
    "one thing",
    "magic wand",
    "proud",
    "enjoy",
    "future",
    "career",
    "what would",
    "hope",
    "want",
    "looking for",
    "why does",
    "why is that",
    "value",
    "care",
    "best part",
    "like about",
    "change",
    "trying to",
    "solve",
    "hoping",
    "why did",
    "reason",
    "what made you",
    "drew you",
    "pitch",
    "next for you",
    "aspire",
)
MANUAL_CUES = (
    "paper",
    "by hand",
    "manual",
    "spreadsheet",
    "copy",
    "paste",
    "retyp",
    "whiteboard",
    "binder",
    "clipboard",
    "print",
    "fax",
    "sticky note",
    "phone call",
    "email",
)
DIGITAL_CUES = (
    "automat",
    "dashboard",
    "integrat",
    "api",
    "sync",
    "workflow",
    "self-serve",
    "real time",
    "real-time",
    "app",
    "portal",
    "single sign-on",
    "sso",
    "alert",
    "notification",
    "report",
)

# Generic work artefacts that act as tools even though they are not brand names.
GENERIC_TOOLS = {
    "spreadsheet": "Spreadsheets",
    "spreadsheets": "Spreadsheets",
    "email": "Email",
    "emails": "Email",
    "e-mail": "Email",
    "inbox": "Email",
    "whiteboard": "Whiteboard",
    "clipboard": "Paper checklists",
    "binder": "Binders",
    "binders": "Binders",
    "group chat": "Group chat",
    "text message": "Text messages",
    "shared drive": "Shared drive",
    "calendar": "Calendar",
}
_PAPER = re.compile(r"\bpaper\s+([a-z]+s?)\b", re.I)
TOOL_PRECEDERS = {
    "in",
    "into",
    "on",
    "from",
    "via",
    "through",
    "using",
    "use",
    "uses",
    "used",
    "onto",
    "inside",
    "export",
    "exports",
    "exported",
    "open",
    "opens",
    "opened",
    "reaches",
    "to",
}
TOOL_FOLLOWERS = {
    "export",
    "exports",
    "integration",
    "integrations",
    "sync",
    "account",
    "accounts",
    "login",
    "tile",
    "report",
    "reports",
    "dashboard",
    "dashboards",
    "app",
    "ticket",
    "tickets",
    "group",
    "groups",
    "channel",
    "connector",
    "file",
    "files",
    "sheet",
    "sheets",
    "instance",
    "admin",
    "license",
    "licenses",
    "workspace",
    "tracker",
    "portal",
    "plan",
    "template",
    "queue",
    "board",
    "alerts",
    "api",
    "thread",
    "message",
    "messages",
}
COMMON_CAPITALISED = {
    "i",
    "i'm",
    "i've",
    "i'd",
    "i'll",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
    "english",
    "ok",
    "okay",
    "ceo",
    "cfo",
    "coo",
    "cro",
    "cto",
    "cio",
    "vp",
    "hr",
    "it",
    "q1",
    "q2",
    "q3",
    "q4",
    "us",
    "uk",
    "eu",
    "emea",
    "apac",
    "amer",
    "the",
    "a",
    "an",
    "so",
    "and",
    "but",
    "or",
    "if",
    "we",
    "they",
    "he",
    "she",
    "you",
    "my",
    "our",
    "their",
    "this",
    "that",
    "then",
    "there",
    "what",
    "when",
    "which",
    "who",
    "why",
    "how",
    "yes",
    "no",
    "not",
    "sure",
    "sorry",
    "thanks",
    "hi",
    "hello",
    "mr",
    "mrs",
    "ms",
    "dr",
    "one",
    "two",
    "three",
    "mid-market",
}

_CAMEL = re.compile(r"^[A-Z][a-z0-9]+(?:[A-Z][a-zA-Z0-9]*)+$|^[a-z]+[A-Z][a-zA-Z0-9]*$")
_CAP_SEQ = re.compile(r"\b([A-Z][a-zA-Z0-9]+(?:[ \-][A-Z][a-zA-Z0-9]+)*)\b")
_NUMBER_TIME = re.compile(
    r"\b(\d+|one|two|three|four|five|six|seven|eight|nine|ten|twelve|fifteen|twenty|thirty|forty|fifty|"
    r"sixty|a few|several|a couple of)\s+(minutes?|hours?|days?|weeks?|months?|quarters?|years?|times|"
    r"calls|trips)\b",
    re.I,
)


@dataclass
class Sentence:
    idx: int
    turn: int
    sent: int
    start: int
    end: int
    text: str
    question: str
    chunk: int
    sentiment: float
    frustration: float
    motivation: float
    tokens: list[str] = field(default_factory=list)


@dataclass
class ConversationAnalysis:
    conversation_id: str
    contact_id: str
    sentences: list[Sentence]
    chunks: list[dict[str, Any]]
    tools: dict[str, list[int]]  # tool name -> sentence idx
    keyphrases: list[tuple[str, float]]
    pain_points: list[dict[str, Any]]
    motivations: list[list[int]]  # runs of sentence idx
    summary: str
    digital_maturity_score: int

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["keyphrases"] = [list(k) for k in self.keyphrases]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ConversationAnalysis:
        sentences = [Sentence(**s) for s in data["sentences"]]
        return cls(
            conversation_id=data["conversation_id"],
            contact_id=data["contact_id"],
            sentences=sentences,
            chunks=data["chunks"],
            tools={k: list(v) for k, v in data["tools"].items()},
            keyphrases=[(k, float(v)) for k, v in data["keyphrases"]],
            pain_points=data["pain_points"],
            motivations=[list(m) for m in data["motivations"]],
            summary=data["summary"],
            digital_maturity_score=int(data["digital_maturity_score"]),
        )


@lru_cache(maxsize=1)
def _vader():  # type: ignore[no-untyped-def]
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def _cue_count(text: str, cues: tuple[str, ...]) -> int:
    low = " " + text.lower().replace("\u2019", "'") + " "
    return sum(1 for cue in cues if cue in low)


def frustration_score(text: str, question: str, sentiment: float) -> float:
    score = max(0.0, -sentiment) * 1.5 + 0.45 * min(4, _cue_count(text, FRUSTRATION_CUES))
    if _NUMBER_TIME.search(text):
        score += 0.35
    if _cue_count(question, FRUSTRATION_QUESTION_CUES):
        score += 0.5
    if re.search(r"\b(not|no|never|nobody|nothing|don't|doesn't|isn't|can't|won't|didn't)\b", text.lower()):
        score += 0.3
    if sentiment > 0.5:
        score -= 0.6
    n = len(words(text))
    if n < 6:
        score -= 0.8
    return round(score, 4)


def motivation_score(text: str, question: str, sentiment: float) -> float:
    low = text.lower().replace("\u2019", "'")
    score = 0.6 * min(3, _cue_count(low, MOTIVATION_CUES))
    if _cue_count(question, MOTIVATION_QUESTION_CUES):
        score += 0.5
    if re.search(r"\b(i|we)('d| would| want| hope| wish| love)\b", low):
        score += 0.3
    score += 0.3 * max(0.0, sentiment)
    if len(words(text)) < 5:
        score -= 0.8
    return round(score, 4)


def detect_tools(text: str, exclude: set[str]) -> list[str]:
    """Tool names in one sentence: product-like capitalised tokens in usage contexts, plus generic
    work artefacts (spreadsheets, email, paper forms)."""
    found: list[str] = []
    toks = words(text)
    lower = [t.lower() for t in toks]
    for m in _CAP_SEQ.finditer(text):
        phrase = m.group(1)
        parts = phrase.split()
        # drop a sentence-initial ordinary word ("So Okta" -> "Okta")
        while parts and (parts[0].lower() in COMMON_CAPITALISED or parts[0].lower().rstrip("s") in COMMON_CAPITALISED):
            parts = parts[1:]
        # a sentence-initial ordinary word glued to a product name ("Check FixFlow") is not part of it
        at_start = text[: m.start()].strip() == "" or text[: m.start()].rstrip().endswith((".", "!", "?", ":", '"'))
        if at_start and len(parts) > 1 and not _CAMEL.match(parts[0]) and any(_CAMEL.match(p) for p in parts[1:]):
            parts = parts[1:]
        if not parts:
            continue
        phrase = " ".join(parts)
        head = parts[0]
        if head.lower() in exclude or phrase.lower() in exclude or head.lower() in COMMON_CAPITALISED:
            continue
        if len(head) < 3 or (head.isupper() and len(head) > 5):
            continue
        start = m.start() + m.group(1).find(phrase)
        sentence_initial = text[:start].strip() == "" or text[:start].rstrip().endswith((".", "!", "?", ":", '"'))
        camel = any(_CAMEL.match(p) for p in parts)
        # words just before and after the phrase
        before = [w.lower() for w in words(text[:start])][-2:]
        after = [w.lower() for w in words(text[start + len(phrase) :])][:1]
        context = bool(set(before) & TOOL_PRECEDERS) or bool(set(after) & TOOL_FOLLOWERS)
        if camel or (context and not sentence_initial):
            if after and after[0] in {"said", "says", "told", "thinks", "asked", "called", "wants"}:
                continue
            found.append(phrase)
    for i, w in enumerate(lower):
        name = GENERIC_TOOLS.get(w)
        if name is None and i + 1 < len(lower):
            name = GENERIC_TOOLS.get(f"{w} {lower[i + 1]}")
        if name:
            found.append(name)
    for m in _PAPER.finditer(text):
        noun = m.group(1).lower()
        if noun not in STOPWORDS and len(noun) > 3:
            found.append(f"Paper {noun}")
    return found


def _canonical_tool(name: str) -> str:
    if name.lower().startswith("paper "):
        base = name[6:].rstrip("s")
        return f"Paper {base}s"
    return name


_NP_PATTERN = re.compile(r"^[a-z][a-z\-]+$")


def keyphrases(sentences: list[str], top: int = 15) -> list[tuple[str, float]]:
    """Keyphrases (1-3 word noun-ish n-grams without stop words), scored by frequency x length."""
    counts: Counter[str] = Counter()
    for text in sentences:
        toks = [w.lower().replace("\u2019", "'") for w in words(text)]
        for n in (1, 2, 3):
            for i in range(len(toks) - n + 1):
                gram = toks[i : i + n]
                if any(g in STOPWORDS or "'" in g or not _NP_PATTERN.match(g) for g in gram):
                    continue
                if len(gram[-1]) < 4:
                    continue
                counts[" ".join(gram)] += 1
    scored = {k: v * (1 + 0.6 * (len(k.split()) - 1)) for k, v in counts.items() if v >= 2 or len(k.split()) > 1}
    best = sorted(scored.items(), key=lambda kv: -kv[1])
    out: list[tuple[str, float]] = []
    for phrase, score in best:
        if any(phrase in p or p in phrase for p, _ in out):
            continue
        out.append((phrase, round(score, 3)))
        if len(out) >= top:
            break
    return out


def _severity(score: float) -> str:
    return "high" if score >= 2.4 else "medium" if score >= 1.5 else "low"


def quote_span(sentences: list[Sentence], s: Sentence, max_chars: int = 320) -> str:
    """The sentence plus the following one from the same turn when it continues the thought."""
    text = s.text
    nxt = sentences[s.idx + 1] if s.idx + 1 < len(sentences) else None
    if nxt is not None and nxt.turn == s.turn and len(text) + len(nxt.text) + 1 <= max_chars:
        return text + " " + nxt.text
    return text


def analyze_conversation(
    conversation_id: str,
    contact_id: str,
    turns: list[dict[str, Any]],
    *,
    exclude_names: set[str] | None = None,
    contact_label: str = "The participant",
) -> ConversationAnalysis:
    """Split, score and extract one conversation. Deterministic: same input, same output."""
    vader = _vader()
    chunks = chunk_turns(turns)
    chunk_of: dict[tuple[int, int], int] = {}
    for ch in chunks:
        # the first chunk that holds a sentence is its citation
        for key in _keys_between(turns, ch.first, ch.last):
            chunk_of.setdefault(key, ch.ordinal)
    exclude = {n.lower() for n in (exclude_names or set())}
    sentences: list[Sentence] = []
    question = ""
    tools: dict[str, list[int]] = {}
    for ti, turn in enumerate(turns):
        text = turn.get("text", "") or ""
        if turn.get("speaker") != "participant":
            question = text
            continue
        for si, span in enumerate(split_sentences(text)):
            sentiment = vader.polarity_scores(span.text)["compound"]
            s = Sentence(
                idx=len(sentences),
                turn=ti,
                sent=si,
                start=span.start,
                end=span.end,
                text=span.text,
                question=question[-400:],
                chunk=chunk_of.get((ti, si), 0),
                sentiment=round(sentiment, 4),
                frustration=frustration_score(span.text, question, sentiment),
                motivation=motivation_score(span.text, question, sentiment),
                tokens=content_tokens(span.text),
            )
            sentences.append(s)
            for tool in detect_tools(span.text, exclude):
                tools.setdefault(_canonical_tool(tool), []).append(s.idx)
    # merge case variants / plurals of tool names
    merged: dict[str, list[int]] = {}
    for name in sorted(tools, key=lambda n: (-len(tools[n]), n)):
        key = next((m for m in merged if m.lower().rstrip("s") == name.lower().rstrip("s")), None)
        merged.setdefault(key or name, []).extend(tools[name])
    phrases = keyphrases([s.text for s in sentences])
    pains = _pain_points(sentences, turns)
    motivations = [run for run in pick_windows(sentences, "motivation", 5, 0.6)]
    return ConversationAnalysis(
        conversation_id=conversation_id,
        contact_id=contact_id,
        sentences=sentences,
        chunks=[{"ordinal": c.ordinal, "text": c.text, "first": list(c.first), "last": list(c.last)} for c in chunks],
        tools={k: sorted(set(v)) for k, v in merged.items()},
        keyphrases=phrases,
        pain_points=pains,
        motivations=motivations,
        summary=_summary(contact_label, sentences, pains, motivations, phrases),
        digital_maturity_score=_maturity(sentences, merged),
    )


def _keys_between(turns: list[dict[str, Any]], first: tuple[int, int], last: tuple[int, int]) -> list[tuple[int, int]]:
    keys = []
    for ti in range(first[0], last[0] + 1):
        n = len(split_sentences(turns[ti].get("text", "") or ""))
        lo = first[1] if ti == first[0] else 0
        hi = last[1] if ti == last[0] else n - 1
        keys.extend((ti, si) for si in range(lo, hi + 1))
    return keys


def window(sentences: list[Sentence], s: Sentence, attr: str, max_chars: int = 420) -> list[int]:
    """A short run of sentences around `s` from the same turn: the sentence, the next one, and
    neighbours that carry the same signal (`attr` score >= 0.4)."""
    idxs = [s.idx]
    prev = sentences[s.idx - 1] if s.idx > 0 else None
    nxt = sentences[s.idx + 1] if s.idx + 1 < len(sentences) else None
    length = len(s.text)
    if nxt is not None and nxt.turn == s.turn and length + len(nxt.text) < max_chars:
        idxs.append(nxt.idx)
        length += len(nxt.text) + 1
        nxt2 = sentences[nxt.idx + 1] if nxt.idx + 1 < len(sentences) else None
        if (
            nxt2 is not None
            and nxt2.turn == s.turn
            and getattr(nxt2, attr) >= 0.4
            and length + len(nxt2.text) < max_chars
        ):
            idxs.append(nxt2.idx)
            length += len(nxt2.text) + 1
    if prev is not None and prev.turn == s.turn and getattr(prev, attr) >= 0.4 and length + len(prev.text) < max_chars:
        idxs.insert(0, prev.idx)
    return idxs


def span_text(sentences: list[Sentence], idxs: list[int], turn_text: str | None = None) -> str:
    """Verbatim text of consecutive sentences of one turn."""
    first, last = sentences[idxs[0]], sentences[idxs[-1]]
    if turn_text is not None:
        return turn_text[first.start : last.end]
    return " ".join(sentences[i].text for i in idxs)


def pick_windows(sentences: list[Sentence], attr: str, limit: int, floor: float) -> list[list[int]]:
    ranked = sorted(sentences, key=lambda s: (-getattr(s, attr), s.idx))
    used: set[int] = set()
    out: list[list[int]] = []
    for s in ranked:
        if getattr(s, attr) < floor or len(out) >= limit:
            break
        if s.idx in used:
            continue
        idxs = [i for i in window(sentences, s, attr) if i not in used]
        # keep the run contiguous around s
        idxs = [i for i in idxs if abs(i - s.idx) <= 2]
        run = [s.idx]
        for i in sorted(idxs):
            if i == run[-1] + 1:
                run.append(i)
        for i in sorted(idxs, reverse=True):
            if i == run[0] - 1:
                run.insert(0, i)
        used.update(run)
        out.append(run)
    return out


def _pain_points(
    sentences: list[Sentence], turns: list[dict[str, Any]] | None = None, limit: int = 7
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for run in pick_windows(sentences, "frustration", limit, 0.9):
        head = max(run, key=lambda i: sentences[i].frustration)
        s = sentences[head]
        turn_text = turns[s.turn].get("text", "") if turns else None
        out.append(
            {
                "text": s.text,
                "severity": _severity(s.frustration),
                "process": None,
                "quote": span_text(sentences, run, turn_text),
                "sentence": head,
                "sentences": run,
                "score": s.frustration,
            }
        )
    return out


def _summary(
    label: str,
    sentences: list[Sentence],
    pains: list[dict[str, Any]],
    motivations: list[int],
    phrases: list[tuple[str, float]],
) -> str:
    if not sentences:
        return f"{label} did not say anything substantive."
    topics = ", ".join(p for p, _ in phrases[:5])
    parts = [f"{label} talked mostly about {topics}." if topics else f"{label} gave a short interview."]
    if pains:
        parts.append(f"Main frustration: \u201c{pains[0]['text']}\u201d")
    if motivations:
        parts.append(f"What matters to them: \u201c{sentences[motivations[0][0]].text}\u201d")
    return " ".join(parts)


def _maturity(sentences: list[Sentence], tools: dict[str, list[int]]) -> int:
    text = " ".join(s.text for s in sentences).lower()
    manual = sum(text.count(c) for c in MANUAL_CUES)
    digital = sum(text.count(c) for c in DIGITAL_CUES)
    branded = sum(1 for t in tools if t not in GENERIC_TOOLS.values() and not t.startswith("Paper"))
    score = 2.5 + 0.35 * min(4, branded) + 0.15 * min(8, digital) - 0.2 * min(8, manual)
    return max(1, min(5, round(score)))


def stem_phrase(phrase: str) -> str:
    return " ".join(stem(w) for w in phrase.lower().split())
