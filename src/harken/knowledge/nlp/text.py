"""Sentences, chunks and tokens.

Sentence splitting uses segtok's rule-based segmenter (offline); spans are located in the original
text so every quote we emit is a verbatim substring of what the participant said.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from functools import lru_cache

from segtok.segmenter import split_multi
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

STOPWORDS = frozenset(ENGLISH_STOP_WORDS) | frozenset(
    {
        "yeah",
        "okay",
        "ok",
        "like",
        "just",
        "really",
        "actually",
        "basically",
        "honestly",
        "kind",
        "sort",
        "thing",
        "things",
        "stuff",
        "lot",
        "lots",
        "bit",
        "maybe",
        "probably",
        "pretty",
        "guess",
        "mean",
        "know",
        "think",
        "say",
        "said",
        "says",
        "got",
        "get",
        "gets",
        "getting",
        "going",
        "want",
        "wants",
        "did",
        "does",
        "doing",
        "don",
        "didn",
        "doesn",
        "isn",
        "wasn",
        "aren",
        "ll",
        "ve",
        "re",
        "let",
        "sure",
        "right",
        "well",
        "oh",
        "um",
        "uh",
        "yes",
        "way",
        "good",
        "great",
        "also",
        "still",
        "even",
        "one",
        "two",
        "three",
        "time",
        "day",
        "week",
        "today",
        "people",
        "someone",
        "something",
        "everything",
        "anything",
        "nothing",
        "person",
        "literally",
        "totally",
        "fine",
        "frankly",
        "gonna",
        "wanna",
        "ones",
        "able",
        "use",
        "used",
        "using",
        "make",
        "makes",
        "made",
        "need",
        "needs",
        "come",
        "comes",
        "came",
        "go",
        "goes",
        "went",
        "look",
        "looks",
        "looked",
        "tell",
        "told",
        "ask",
        "asked",
        "work",
        "works",
        "worked",
        "hi",
        "thanks",
        "thank",
    }
)

_WORD = re.compile(r"[A-Za-z][A-Za-z0-9'\u2019\-]*[A-Za-z0-9]|[A-Za-z]")


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    text: str


def split_sentences(text: str) -> list[Span]:
    """Sentence spans of `text` (offsets into the original string)."""
    spans: list[Span] = []
    pos = 0
    for raw in split_multi(text or ""):
        piece = raw.strip()
        if not piece:
            continue
        start = text.find(piece, pos)
        if start < 0:  # segtok normalised something: fall back to a loose search
            start = pos
            end = min(len(text), pos + len(piece))
        else:
            end = start + len(piece)
        spans.append(Span(start, end, text[start:end]))
        pos = end
    return spans


@lru_cache(maxsize=1)
def _stemmer():  # type: ignore[no-untyped-def]
    import snowballstemmer

    return snowballstemmer.stemmer("english")


@lru_cache(maxsize=50_000)
def stem(word: str) -> str:
    return _stemmer().stemWord(word.lower().replace("\u2019", "'").split("'")[0])


def words(text: str) -> list[str]:
    return [m.group(0) for m in _WORD.finditer(text or "")]


def content_tokens(text: str) -> list[str]:
    """Stemmed, lower-cased content words (stop words and very short tokens dropped)."""
    out = []
    for w in words(text):
        lw = w.lower().replace("\u2019", "'")
        if lw in STOPWORDS or len(lw) < 3 or lw.split("'")[0] in STOPWORDS:
            continue
        out.append(stem(lw))
    return out


def normalize(text: str) -> str:
    return re.sub(r"\s+", " ", (text or "").lower()).strip()


@dataclass
class Chunk:
    ordinal: int
    text: str
    # (turn index, sentence index within the turn) of the first and last sentence
    first: tuple[int, int]
    last: tuple[int, int]
    speakers: list[str]


def chunk_turns(turns: list[dict], size: int = 1000, overlap: int = 200) -> list[Chunk]:
    """Sentence-bounded chunks of about `size` characters overlapping by about `overlap`.

    Each sentence is rendered with its speaker label at the start of a turn, so a chunk reads like
    a transcript excerpt. A sentence longer than `size` becomes a chunk on its own.
    """
    units: list[tuple[int, int, str, str]] = []  # (turn, sent, speaker, rendered text)
    for ti, turn in enumerate(turns):
        speaker = "Participant" if turn.get("speaker") == "participant" else "Interviewer"
        for si, span in enumerate(split_sentences(turn.get("text", ""))):
            label = f"{speaker}: " if si == 0 else ""
            units.append((ti, si, turn.get("speaker", "agent"), label + span.text))
    chunks: list[Chunk] = []
    i = 0
    while i < len(units):
        j, length = i, 0
        while j < len(units) and (length == 0 or length + len(units[j][3]) + 1 <= size):
            length += len(units[j][3]) + 1
            j += 1
        piece = units[i:j]
        chunks.append(
            Chunk(
                ordinal=len(chunks),
                text=" ".join(u[3] for u in piece),
                first=(piece[0][0], piece[0][1]),
                last=(piece[-1][0], piece[-1][1]),
                speakers=sorted({u[2] for u in piece}),
            )
        )
        if j >= len(units):
            break
        # step back over about `overlap` characters of whole sentences
        k, back = j, 0
        while k - 1 > i and back + len(units[k - 1][3]) + 1 <= overlap:
            back += len(units[k - 1][3]) + 1
            k -= 1
        i = k if k > i else j
    return chunks


def _grams(text: str) -> list[str]:
    toks = content_tokens(text)
    return toks + [f"{a}_{b}" for a, b in itertools.pairwise(toks)]


class ConversationTfidf:
    """TF-IDF over sentences whose IDF is counted per conversation, not per sentence.

    A word every participant uses (the product's name, the department's name) carries no weight,
    whereas a word a few people used for one subject keeps it: the right notion of "distinctive"
    for interview material.
    """

    def __init__(self, extra_weight: float = 0.05) -> None:
        self.extra_weight = extra_weight
        self.vocab: dict[str, int] = {}
        self.idf: list[float] = []

    def fit(self, texts: list[str], doc_ids: list[str]) -> ConversationTfidf:
        import math

        df: dict[str, set[str]] = {}
        for text, doc in zip(texts, doc_ids, strict=True):
            for g in set(_grams(text)):
                df.setdefault(g, set()).add(doc)
        n_docs = len(set(doc_ids)) or 1
        self.vocab = {g: i for i, g in enumerate(sorted(df))}
        self.idf = [0.0] * len(self.vocab)
        for g, docs in df.items():
            self.idf[self.vocab[g]] = math.log((1 + n_docs) / (1 + len(docs))) + self.extra_weight
        return self

    def transform(self, texts: list[str]):  # type: ignore[no-untyped-def]
        import numpy as np
        from scipy.sparse import csr_matrix

        rows, cols, vals = [], [], []
        for r, text in enumerate(texts):
            counts: dict[int, int] = {}
            for g in _grams(text):
                j = self.vocab.get(g)
                if j is not None:
                    counts[j] = counts.get(j, 0) + 1
            if not counts:
                continue
            weights = {j: (1.0 + np.log(c)) * self.idf[j] for j, c in counts.items()}
            norm = float(np.sqrt(sum(w * w for w in weights.values()))) or 1.0
            for j, w in weights.items():
                rows.append(r)
                cols.append(j)
                vals.append(w / norm)
        return csr_matrix((vals, (rows, cols)), shape=(len(texts), len(self.vocab)), dtype=np.float32)

    def feature_names(self) -> list[str]:
        return sorted(self.vocab, key=self.vocab.__getitem__)
