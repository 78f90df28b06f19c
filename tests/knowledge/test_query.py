"""Graph-query retrieval and answer composition on small hand-written interviews (pure functions,
no database): follow-up answers inherit the thread's relevance, question words are expanded into
the campaign's own vocabulary, and the extractive answer stays within its length budget."""

from __future__ import annotations

import hashlib
import re

import numpy as np
import pytest

from harken.knowledge.nlp import query as q
from harken.knowledge.nlp.extract import analyze_conversation
from harken.knowledge.nlp.query import QueryIndex
from harken.knowledge.nlp.synthesis import ContactInfo, ConversationInput

DIM = 256


class StubEmbedder:
    """Deterministic bag-of-words embeddings: every word a fixed random vector, except the words
    listed in `same` which share their partner's vector (a stand-in for a model that knows two
    words are related)."""

    def __init__(self, same: dict[str, str] | None = None) -> None:
        self.same = same or {}

    def _word(self, word: str) -> np.ndarray:
        word = self.same.get(word, word)
        seed = int.from_bytes(hashlib.sha256(word.encode()).digest()[:4], "little")
        return np.random.default_rng(seed).standard_normal(DIM).astype(np.float32)

    def embed(self, texts: list[str]) -> np.ndarray:
        rows = []
        for text in texts:
            words = re.findall(r"[a-z]+", text.lower()) or ["empty"]
            v = np.sum([self._word(w) for w in words], axis=0)
            rows.append(v / (np.linalg.norm(v) or 1.0))
        return np.asarray(rows, dtype=np.float32).reshape(len(texts), DIM)


CONVERSATIONS = {
    "ann": [
        ("agent", "Hi Ann, could you tell me about your role?"),
        ("participant", "I run the front desk at a small public library."),
        ("agent", "What slowed down the opening of the new branch?"),
        ("participant", "The branch opening waited on the building inspection. The inspector only came on Tuesdays."),
        ("agent", "And after that?"),
        ("participant", "Then the shelving vendor shipped the wrong brackets, so we waited three more weeks."),
        ("agent", "How are new volunteers trained for the returns desk in their first month?"),
        (
            "participant",
            "It has been fine for most of them, I suppose. "
            "We run a workshop every month covering the issue desk, the returns cart and the barcode scanners.",
        ),
    ],
    "bob": [
        ("agent", "Hi Bob, could you tell me about your role?"),
        ("participant", "I coordinate the volunteers across three library sites."),
        ("agent", "Let's talk about the catalogue system."),
        ("participant", "The catalogue search is fine. Patrons find books quickly and the barcode scanners work."),
        ("agent", "How do new volunteers get started?"),
        ("participant", "They shadow a senior volunteer for two shifts before working alone."),
    ],
    "cleo": [
        ("agent", "Hi Cleo, could you tell me about your role?"),
        ("participant", "I look after the children's programmes at the library."),
        ("agent", "What gets in the way of your story hours?"),
        (
            "participant",
            "The room booking calendar double-books the reading room. It happens a lot. "
            "Parents turn up and the room is taken.",
        ),
        ("agent", "What happened the last time?"),
        ("participant", "Twenty toddlers sat in the corridor while a chess club finished its match."),
    ],
}


def _index(embedder: StubEmbedder | None = None) -> QueryIndex:
    embedder = embedder or StubEmbedder()
    names = {"Ann", "Bob", "Cleo"}
    inputs = []
    for ref, turns in CONVERSATIONS.items():
        raw = [{"speaker": s, "text": t} for s, t in turns]
        analysis = analyze_conversation(f"cv-{ref}", ref, raw, exclude_names=names, contact_label=ref.title())
        emb = embedder.embed([s.text for s in analysis.sentences])
        inputs.append(ConversationInput(f"cv-{ref}", ContactInfo(ref, ref.title()), analysis, emb, raw))
    return QueryIndex.build(inputs, {}, embedder.embed)


def _sentence(index: QueryIndex, fragment: str) -> int:
    return next(i for i, e in enumerate(index.entries) if fragment in e.text)


def test_follow_up_questions_inherit_but_new_subjects_do_not() -> None:
    index = _index()
    turn = {index.entries[index.turn_members[t][0]].question: t for t in range(len(index.turn_keys))}
    assert index.turn_carry[turn["And after that?"]] > 0.4  # short and referring back
    assert index.turn_carry[turn["What happened the last time?"]] > 0.2
    # a short opener may still be a follow-up, but less surely; a longer new question inherits nothing
    opener = index.turn_carry[turn["Let's talk about the catalogue system."]]
    assert opener < index.turn_carry[turn["And after that?"]]
    assert index.turn_carry[turn["How are new volunteers trained for the returns desk in their first month?"]] == 0.0
    first = [t for t in range(len(index.turn_keys)) if index.turn_prev[t] < 0]
    assert len(first) == len(CONVERSATIONS)  # every interview starts a new thread


def test_follow_up_answer_is_retrieved_for_the_thread_it_continues(monkeypatch: pytest.MonkeyPatch) -> None:
    query = "What slowed down the opening of the new branch?"
    index = _index()
    brackets = _sentence(index, "shelving vendor")
    catalogue = _sentence(index, "catalogue search")
    score = index.relevance(query)[0]
    # no word in common with the question, yet it answers it: it continues the exchange before it
    assert score[brackets] > 2 * score[catalogue]
    ranked = [t for t, _ in index.rank_turns(score)]
    assert ranked[:2] == [index.turn_of[_sentence(index, "inspection")], index.turn_of[brackets]]
    assert "shelving vendor shipped the wrong brackets" in index.answer(query)["answer"]
    # without the dialogue it scores like any unrelated sentence
    monkeypatch.setattr(q, "CARRY", 0.0)
    flat = _index().relevance(query)[0]
    assert flat[brackets] < score[brackets] / 2


def test_question_words_expand_into_the_participants_vocabulary(monkeypatch: pytest.MonkeyPatch) -> None:
    # the embedding model relates "learn" and "workshop"; nobody said "learn"
    embedder = StubEmbedder(same={"learn": "workshop"})
    index = _index(embedder)
    workshop = index.vec.vocabulary_["workshop"]
    qv = index._query_vector("How do volunteers learn the ropes?")
    assert qv[0, workshop] > 0
    sentence = _sentence(index, "workshop every month")
    assert index.relevance("How do volunteers learn the ropes?")[0][sentence] > 0
    monkeypatch.setattr(q, "EXPAND_WEIGHT", 0.0)
    plain = _index(embedder)
    assert plain._query_vector("How do volunteers learn the ropes?")[0, workshop] == 0


def test_unrelated_words_are_not_added() -> None:
    index = _index()  # random word vectors: nothing is close to anything
    qv = index._query_vector("What slowed down the opening of the new branch?")
    direct = index.vec.transform(["What slowed down the opening of the new branch?"])
    assert set(qv.nonzero()[1]) <= set(direct.nonzero()[1])


def test_answer_lines_are_distinct_verbatim_and_within_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    index = _index()
    monkeypatch.setattr(q, "ANSWER_CHARS", 200)
    result = index.answer("What gets in the way at the library?")
    lines = result["answer"].split("\n")[1:]
    assert len(lines) >= q.MIN_LINES
    assert len("\n".join(lines)) <= 200 or len(lines) == q.MIN_LINES
    quotes = [re.search(r"\u201c(.*)\u201d", line).group(1) for line in lines]  # type: ignore[union-attr]
    assert len(set(quotes)) == len(quotes)
    said = " ".join(t for turns in CONVERSATIONS.values() for s, t in turns if s == "participant")
    # every piece is verbatim; an ellipsis only marks sentences left out of one answer
    assert all(piece in said for quote in quotes for piece in quote.split(" \u2026 "))
    # what did not fit in the answer is offered as patterns, not dropped or repeated
    claims = [p["claim"] for p in result["patterns"]]
    assert claims and not set(claims) & set(quotes)


def test_quoted_run_prefers_specific_sentences() -> None:
    index = _index()
    t = index.turn_of[_sentence(index, "workshop every month")]
    own = np.zeros(len(index.entries))
    span = index.best_span(t, own, problem=False, max_sentences=1)
    # no sentence matches the query better than another: the one with the specifics is quoted
    assert [index.entries[i].text for i in span] == [
        "We run a workshop every month covering the issue desk, the returns cart and the barcode scanners."
    ]
    assert len(index.best_span(t, own, problem=False, max_sentences=2)) == 2


def test_two_key_statements_of_an_answer_are_quoted_with_an_ellipsis_between() -> None:
    index = _index()
    a = _sentence(index, "room booking calendar")
    b = _sentence(index, "It happens a lot")
    c = _sentence(index, "Parents turn up")
    own = np.zeros(len(index.entries))
    own[c] = 0.3  # the statement that matches the question
    span = index.best_span(int(index.turn_of[a]), own, problem=False, max_sentences=2)
    assert span == [a, c]  # the filler between them is left out
    assert index.quote(span) == (
        "The room booking calendar double-books the reading room. \u2026 Parents turn up and the room is taken."
    )
    assert index.quote([a, b]) == "The room booking calendar double-books the reading room. It happens a lot."
