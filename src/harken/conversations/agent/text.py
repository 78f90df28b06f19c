"""Language helpers of the interview agent: tokens, stems, salient phrases, answer classes.

Everything here is generic: word lists are function words and everyday conversational signals,
never the vocabulary of a particular industry, so the agent works on any campaign.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

_TOKEN = re.compile(r"[^\W_]+(?:['\u2019-][^\W_]+)*", re.UNICODE)
_SENTENCE = re.compile(r"(?<=[.!?;:])\s+|\n+")


def _words(block: str) -> list[str]:
    return block.split()


_CLAUSE = re.compile(r"[,;:()\[\]\"\u201c\u201d\u00ab\u00bb\u2014\u2013]|\s-\s")

STOPWORDS_EN = set(
    _words(
        """
a about above actually after again against all almost also although always am among an and another any anybody
anyone anything anyway anyways anywhere are aren't around as at away back bad basically be became because become
been before being below besides best better between big bit both but by can can't cannot certainly come comes
coming could couldn't day days did didn't different do does doesn't doing don't done down during each either else
enough especially even ever every everybody everyone everything exactly fairly far few fine first for from frankly
further get gets getting give given go goes going gone good got gotten great guess had hadn't happen happened
happens has hasn't have haven't having he he's her here hers herself him himself his honestly how however i i'd
i'll i'm i've if in indeed instead into is isn't it it's its itself just keep kind know known last later least
less let let's like likely little lot lots make makes making many may maybe me mean means might mine more most
mostly much must my myself need needs never new next nice no nobody none nor not nothing now of off often oh ok
okay old on once one ones only onto or other others otherwise our ours ourselves out over own part particular
particularly per perhaps pretty probably put quite rather really right said same say saying says see seem seems
seen several shall she she's should shouldn't since so some somebody someone something sometimes somewhat soon
sort still such sure take takes taking tell than thank thanks that that's the their theirs them themselves then
there there's these they they'd they'll they're they've thing things think this those though through thus time
times to today together too took toward towards try trying two under until up upon us use used uses using usually
very via want wanted wants was wasn't way ways we we'd we'll we're we've well went were weren't what what's
whatever when whenever where whether which while who who's whole whom whose why will with within without won't
work works would wouldn't yeah yes yet you you'd you'll you're you've your yours yourself yourselves able across
already else's ago also's tend tends tended whatnot etc stuff gonna gotta wanna kinda sorta lately currently
literally obviously generally typically definitely simply clearly certainly totally completely probably usually
normally mainly often sometimes always really
"""
    )
)
# Short lists for the other languages the agent speaks, so phrase boundaries still work there.
STOPWORDS_OTHER = set(
    _words(
        """
le la les un une des du de d l et ou mais donc car ni que qui quoi dont où ce cet cette ces mon ma mes ton ta tes
son sa ses notre nos votre vos leur leurs je tu il elle on nous vous ils elles me te se lui y en ne pas plus très
bien est sont était être avoir a ai as avons avez ont fait faire dans sur sous avec pour par sans chez comme aussi
alors der die das ein eine einer eines einem einen und oder aber denn dass wer was wie wo ich du er sie es wir ihr
mich mir dich dir sich uns euch ist sind war waren sein haben hat habe hatte nicht kein keine sehr auch noch schon
nur mit von zu zum zur bei für auf aus nach über unter vor dann wenn weil el la los las un una unos unas y o pero
que quien como donde yo tú él ella nosotros vosotros ellos ellas me te se nos lo le les es son era ser estar está
están hay muy también ya solo con de del al por para sin sobre en de het een en of maar dat die wie wat hoe waar
ik jij je hij zij ze wij we jullie mij mijn zijn haar ons onze is was waren hebben heeft had niet geen heel ook
nog al maar met van te bij voor op uit naar over onder dan als omdat
"""
    )
)
# Dates, times and counts make poor follow-up phrases ("following Wednesday", "eight months earlier").
TEMPORAL_WORDS = set(
    _words(
        """
monday tuesday wednesday thursday friday saturday sunday january february march april may june july august
september october november december week weeks weekly month months monthly year years yearly quarter quarters
earlier later ago yesterday tomorrow tonight morning mornings afternoon evening night following previous recent
recently minute minutes hour hours daily annual one two three four five six seven eight nine ten eleven twelve
fifteen twenty thirty forty fifty sixty seventy eighty ninety hundred thousand million percent half third quarter
first second third fourth last laughs laughing sighs pause inaudible crosstalk sorry please hello alright
anyway course huh um uh er hmm wow
"""
    )
)
STOPWORDS = STOPWORDS_EN | STOPWORDS_OTHER | TEMPORAL_WORDS

# Conversational signals (not domain vocabulary).
PAIN_SIGNALS = (
    "problem",
    "issue",
    "slow",
    "late",
    "delay",
    "lost",
    "lose",
    "losing",
    "wrong",
    "miss",
    "fail",
    "broke",
    "frustrat",
    "annoy",
    "hard",
    "difficult",
    "stuck",
    "manual",
    "error",
    "mistake",
    "complain",
    "waste",
    "chase",
    "chasing",
    "duplicate",
    "confus",
    "pain",
    "headache",
    "nightmare",
    "mess",
    "behind",
    "worry",
    "risk",
    "overdue",
    "backlog",
    "bottleneck",
    "rework",
    "tedious",
    "clunky",
    "painful",
    "unclear",
    "blame",
    "forgot",
    "forget",
    "too long",
    "takes forever",
    "fall through",
    "gets lost",
)
TOOL_SIGNALS = (
    "spreadsheet",
    "excel",
    "email",
    "e-mail",
    "inbox",
    "system",
    "tool",
    "app",
    "software",
    "platform",
    "portal",
    "dashboard",
    "database",
    "form",
    "crm",
    "erp",
    "chat",
    "slack",
    "teams",
    "whatsapp",
    "phone",
    "paper",
    "whiteboard",
    "calendar",
    "document",
    "sheet",
    "template",
    "report",
    "export",
)
STEP_SIGNALS = ("first", "then", "after", "before", "next", "step", "once", "finally", "until", "when ")
HOSTILE_SIGNALS = (
    "stupid",
    "idiot",
    "dumb",
    "waste of time",
    "waste of my time",
    "pointless",
    "useless",
    "shut up",
    "leave me alone",
    "none of your business",
    "fuck",
    "f*ck",
    "shit",
    "crap",
    "bullshit",
    "screw this",
    "screw you",
    "go away",
    "hate this",
    "ridiculous",
    "moronic",
    "garbage survey",
    "stop asking",
    "not answering",
    "won't answer",
    "piss off",
    "damn bot",
    "stupid bot",
    "connerie",
    "dégage",
    "scheiße",
    "scheisse",
    "blöd",
    "mierda",
    "estúpido",
    "kut",
    "stom",
)
SKIP_SIGNALS = (
    "i don't know",
    "i dont know",
    "don't know",
    "dont know",
    "no idea",
    "not sure",
    "skip",
    "pass",
    "n/a",
    "no comment",
    "rather not",
    "prefer not",
    "not applicable",
    "nothing to add",
    "can't say",
    "je ne sais pas",
    "weiß nicht",
    "weiss nicht",
    "no sé",
    "weet ik niet",
    "geen idee",
    "aucune idée",
)
# Answers that say "nothing here" at some length.
LOW_INFO_SIGNALS = (
    "nothing to add",
    "much to add",
    "can't think of anything",
    "cannot think of anything",
    "not a big part",
    "don't deal with",
    "not really involved",
    "not my area",
    "no idea",
    "nothing comes to mind",
    "nothing stands out",
    "not much to say",
)
SHORT_ANSWERS = {
    "yes",
    "no",
    "yeah",
    "yep",
    "nope",
    "ok",
    "okay",
    "fine",
    "sure",
    "maybe",
    "good",
    "bad",
    "idk",
    "nah",
    "sometimes",
    "never",
    "always",
    "often",
    "rarely",
    "true",
    "false",
    "correct",
    "right",
    "oui",
    "non",
    "ja",
    "nein",
    "sí",
    "si",
    "nee",
    "hmm",
    "meh",
}
NOTHING_MORE = ("nothing", "no that's all", "that's all", "that's it", "all good", "nope", "no, ", "not really")


def tokens(text: str) -> list[str]:
    return [t.lower().replace("\u2019", "'") for t in _TOKEN.findall(text or "")]


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """A crude, language-light stemmer: enough to match `prioritize` with `prioritization`."""
    w = word.lower()
    for suffix in (
        "izations",
        "ization",
        "isations",
        "isation",
        "ations",
        "ation",
        "ings",
        "ing",
        "ments",
        "ment",
        "ness",
        "ities",
        "ity",
        "ies",
        "ied",
        "ers",
        "er",
        "ed",
        "es",
        "s",
        "ly",
        "ize",
        "ise",
        "al",
    ):
        if len(w) > len(suffix) + 3 and w.endswith(suffix):
            w = w[: -len(suffix)]
            break
    return w[:7]


def content_words(text: str) -> list[str]:
    return [t for t in tokens(text) if t not in STOPWORDS and len(t) > 2 and not t.isdigit()]


def content_stems(text: str) -> set[str]:
    return {stem(t) for t in content_words(text)}


def normalize_question(text: str) -> str:
    return " ".join(tokens(text))


def word_count(text: str) -> int:
    return len(tokens(text))


@dataclass(frozen=True)
class AnswerKind:
    kind: str  # empty | hostile | skip | low_info | short | substantive
    words: int
    pain: bool = False
    tool: bool = False
    steps: bool = False


def _has(text: str, signals: tuple[str, ...]) -> bool:
    return any(s in text for s in signals)


def classify(answer: str) -> AnswerKind:
    stripped = (answer or "").strip()
    lowered = f" {stripped.lower().replace(chr(0x2019), chr(39))} "
    n = word_count(stripped)
    if n == 0:
        return AnswerKind("empty", 0)
    if _has(lowered, HOSTILE_SIGNALS) and n < 40:
        return AnswerKind("hostile", n)
    if n <= 8 and _has(lowered, SKIP_SIGNALS):
        return AnswerKind("skip", n)
    if n <= 30 and _has(lowered, LOW_INFO_SIGNALS):
        return AnswerKind("low_info", n)
    if n <= 3 or (n <= 5 and set(tokens(stripped)) <= SHORT_ANSWERS | STOPWORDS):
        return AnswerKind("short", n)
    return AnswerKind(
        "substantive",
        n,
        pain=_has(lowered, PAIN_SIGNALS),
        tool=_has(lowered, TOOL_SIGNALS),
        steps=_has(lowered, STEP_SIGNALS),
    )


def says_nothing_more(answer: str) -> bool:
    lowered = (answer or "").strip().lower()
    return word_count(lowered) <= 6 and (lowered.startswith(NOTHING_MORE) or lowered in SHORT_ANSWERS)


@dataclass(frozen=True)
class Phrase:
    text: str
    score: float
    pain: bool
    tool: bool


def salient_phrases(answer: str, *, avoid: set[str] | None = None, limit: int = 5) -> list[Phrase]:
    """Key phrases of an answer, RAKE-style: runs of content words between function words.

    Phrases are kept in the respondent's own words (original casing) so a follow-up can quote
    them. `avoid` holds stems to down-weight (the words of the question just asked: an echo of the
    question is not new information).
    """
    avoid = avoid or set()
    candidates: list[tuple[list[str], bool, bool]] = []
    for sentence in _SENTENCE.split(answer or ""):
        lowered = f" {sentence.lower()} "
        pain = _has(lowered, PAIN_SIGNALS)
        tool = _has(lowered, TOOL_SIGNALS)
        for clause in _CLAUSE.split(sentence):
            run: list[str] = []
            for raw in _TOKEN.findall(clause):
                low = raw.lower().replace("\u2019", "'")
                if low in STOPWORDS or low.isdigit() or len(low) < 3 or low.endswith("n't") or low.endswith("ly"):
                    if run:
                        candidates.append((run, pain, tool))
                    run = []
                else:
                    run.append(raw)
            if run:
                candidates.append((run, pain, tool))
    if not candidates:
        return []
    freq: dict[str, int] = {}
    degree: dict[str, int] = {}
    for words, _, _ in candidates:
        for w in words:
            key = w.lower()
            freq[key] = freq.get(key, 0) + 1
            degree[key] = degree.get(key, 0) + len(words) - 1
    scored: dict[str, Phrase] = {}
    for words, pain, tool in candidates:
        words = words[:4]
        # "kickoff meeting booked" → "kickoff meeting": a trailing past-tense verb reads badly in a quote.
        while len(words) > 1 and words[-1].lower().endswith("ed"):
            words = words[:-1]
        if len(words) == 1 and len(words[0]) < 5:
            continue
        score = sum((degree[w.lower()] + freq[w.lower()]) / freq[w.lower()] for w in words)
        if 2 <= len(words) <= 3:
            score += 1.5
        elif len(words) == 1:
            score *= 0.6
        stems = {stem(w) for w in words}
        echo = len(stems & avoid) / len(stems)
        score *= 1.0 - 0.7 * echo
        if pain:
            score += 1.0
        text = " ".join(words)
        key = text.lower()
        if key not in scored or scored[key].score < score:
            scored[key] = Phrase(text if any(c.isupper() for c in text[1:]) else text.lower(), score, pain, tool)
    return sorted(scored.values(), key=lambda p: (-p.score, p.text))[:limit]
