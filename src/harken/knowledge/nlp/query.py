"""Graph query: hybrid retrieval over participant sentences (lexical TF-IDF + embeddings, the
question's words expanded into the campaign's own vocabulary), widened through the knowledge graph
(sentences of the processes and topics the question names) and the thread of each interview
(answers to follow-up questions inherit relevance), then an extractive answer (the key statements
of the best answers, within a reading budget), patterns, divergences and verifications. No
language model is needed; when one is configured the service may rewrite the answer, but the
evidence stays these verbatim quotes.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from harken.knowledge.nlp.text import ConversationTfidf, content_tokens

# weight of the participants' self-introductions, and the floor of a query term's weight
INTRO_FACTOR = 0.6
# retrieval weights: sentence, interviewer question, whole answer, embedding
WEIGHTS = (0.40, 0.25, 0.20, 0.15)
# how much the processes a question is about lift their sentences; pain points shown as patterns
PROCESS_LIFT = 0.05
UNIT_PATTERNS = 6
TOPIC_LIFT = 0.5
TOPIC_SENTENCE_LIFT = 0.1
RELEVANCE_FLOOR = 0.35
PER_CONTACT = 3
# the extractive answer: about this many characters, never fewer lines than MIN_LINES
ANSWER_CHARS = 1150
MIN_LINES = 3
# sentences quoted per answer line, per pattern, and a soft length per sentence
ANSWER_SENTENCES = 2
SPAN_CHARS = 160
# weight of a sentence's distinctive content when choosing what to quote from an answer
SALIENCE = 0.2
PATTERN_SENTENCES = 3
TERM_FLOOR = 0.0
# query expansion: per question word, up to EXPAND_K campaign words at least EXPAND_MIN close
EXPAND_WEIGHT = 0.5
EXPAND_K = 4
EXPAND_MIN = 0.3
VOCAB_MAX = 6000
# dialogue: share of an exchange's relevance that a follow-up answer inherits
CARRY = 0.7
FOLLOW_UP_WORDS = 2
ANAPHORA = re.compile(r"\b(that|this|those|these|it|they|them|there|then|so)\b", re.I)
DIVERGENCE_QUERY = re.compile(
    r"\b(disagree|differ|different|divergen|contradict|conflict|tension|opposite|split|versus|vs)\w*", re.I
)
CONTRAST = re.compile(
    r"\b(prefer|rather|disagree|opposite|but i|i'd tell you|would tell you|should be|shouldn't|"
    r"hate|love|too (low|high|much|little)|not .* enough|instead|argue|push(ed)? back|objects?|against|fan of)\b",
    re.I,
)


def _analyzer(text: str) -> list[str]:
    toks = content_tokens(text)
    return toks + [f"{a}_{b}" for a, b in itertools.pairwise(toks)]


@dataclass
class Entry:
    text: str
    conversation_id: str
    contact_id: str
    contact_name: str
    job_title: str | None
    chunk: int
    sentiment: float
    process_ids: list[str] = field(default_factory=list)
    question: str = ""
    turn: int = 0
    frustration: float = 0.0

    @property
    def citation(self) -> str:
        return f"{self.conversation_id}:chunk_{self.chunk}"


@dataclass
class Unit:
    """A pain point as synthesis recorded it: a verbatim run of sentences tied to a process."""

    text: str
    contact_id: str
    contact_name: str
    citation: str
    process_id: str | None
    severity: str


NUMERIC = re.compile(r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten)\b", re.I)
PROBLEM_QUERY = re.compile(
    r"\b(wrong|slow|frustrat|problem|risk|held up|hold up|holds up|behind|stuck|delay|issue|pain|difficult|hard|"
    r"break|broke|fail|complain|annoy|worst|block|why)\w*",
    re.I,
)


class QueryIndex:
    def __init__(self, entries: list[Entry], emb: np.ndarray, processes: list[dict[str, Any]], embed) -> None:
        self.entries = entries
        self.emb = emb
        self.embed = embed
        self.processes = processes
        texts = [e.text for e in entries] or ["empty"]
        self.vec = TfidfVectorizer(analyzer=_analyzer, sublinear_tf=True, norm="l2", dtype=np.float32)
        self.lex = self.vec.fit_transform(texts)
        # query terms that nearly every conversation uses (the product's name, the team's name) say
        # little about which passages answer: weight them by their per-conversation IDF
        conv_idf = ConversationTfidf(extra_weight=0.0).fit(texts, [e.conversation_id for e in entries] or ["none"])
        top_idf = max(conv_idf.idf, default=1.0) or 1.0
        self.term_weight = np.ones(len(self.vec.vocabulary_), dtype=np.float32)
        for term, j in self.vec.vocabulary_.items():
            k = conv_idf.vocab.get(term)
            if k is not None:
                self.term_weight[j] = TERM_FLOOR + (1 - TERM_FLOOR) * conv_idf.idf[k] / top_idf
        for term, j in self.vec.vocabulary_.items():
            if "_" in term:  # a bigram is only as informative as its weaker word
                parts = [self.vec.vocabulary_.get(t) for t in term.split("_")]
                self.term_weight[j] = min([self.term_weight[j]] + [self.term_weight[p] for p in parts if p is not None])
        q_texts = [e.question for e in entries] or ["empty"]
        self.qlex = self.vec.transform(q_texts)
        # turn-level text: a sentence inherits part of its answer's relevance
        turn_text: dict[tuple[str, int], list[str]] = defaultdict(list)
        for e in entries:
            turn_text[(e.conversation_id, e.turn)].append(e.text)
        self.tlex = self.vec.transform([" ".join(turn_text[(e.conversation_id, e.turn)]) for e in entries] or ["empty"])
        # turns as retrieval units: their sentences in order
        self.turn_keys = sorted(turn_text, key=lambda k: (k[0], k[1]))
        self.turn_of = np.zeros(len(entries), dtype=np.int64)
        self.turn_members: list[list[int]] = [[] for _ in self.turn_keys]
        pos = {k: n for n, k in enumerate(self.turn_keys)}
        for i, e in enumerate(entries):
            self.turn_of[i] = pos[(e.conversation_id, e.turn)]
            self.turn_members[self.turn_of[i]].append(i)
        self._dialogue(entries)
        # the first answer of each conversation is usually the participant introducing themselves
        first_q: dict[str, str] = {}
        for e in entries:
            first_q.setdefault(e.conversation_id, e.question)
        self.intro = np.array([e.question == first_q[e.conversation_id] for e in entries], dtype=bool)
        # distinctive content of each sentence: the summed weight of its words that only some
        # conversations use, capped (a long rambling sentence is not more specific for its length)
        self.info = self._information(texts[: len(entries)])
        self.short = np.array([len(e.text) < 25 for e in entries], dtype=bool)
        self.contrast = np.array([bool(CONTRAST.search(e.text)) for e in entries], dtype=bool)
        self.numeric = np.array([bool(NUMERIC.search(e.text)) for e in entries], dtype=bool)
        self.contact_index = np.array([hash(e.contact_id) for e in entries])
        self.by_process: dict[str, list[int]] = defaultdict(list)
        for i, e in enumerate(entries):
            for pid in e.process_ids:
                self.by_process[pid].append(i)
        self.units: list[Unit] = []
        self.unit_lex = None
        self.categories: list[dict[str, Any]] = []
        self.topic_texts: list[tuple[str, str]] = []
        self.topic_lex = None
        self._vocab: tuple[list[int], np.ndarray] | None = None
        self.names = sorted({e.contact_name for e in entries if e.contact_name}, key=len, reverse=True)

    def _information(self, texts: list[str]) -> np.ndarray:
        out = np.zeros(len(texts), dtype=np.float32)
        for n, text in enumerate(texts):
            idx = [self.vec.vocabulary_.get(tok) for tok in set(content_tokens(text))]
            out[n] = sum(float(self.term_weight[j]) for j in idx if j is not None)
        top = float(np.percentile(out, 95)) if len(out) else 1.0
        return np.clip(out / (top or 1.0), 0.0, 1.0)

    def _dialogue(self, entries: list[Entry]) -> None:
        """The thread of each interview: an answer to a follow-up question ("And the legal stage?",
        "How did you respond?", "What happened as a result?") continues the subject of the exchange
        before it, so it inherits part of that exchange's relevance. A question is a follow-up when
        it is short, refers back (this, that, it...) or reuses words of the previous exchange; a
        question that opens a new subject inherits little."""
        n = len(self.turn_keys)
        self.turn_prev = np.full(n, -1, dtype=np.int64)
        self.turn_carry = np.zeros(n, dtype=np.float32)
        prev_tokens: set[str] = set()
        for t, (conv, _turn) in enumerate(self.turn_keys):
            first = entries[self.turn_members[t][0]]
            q_tokens = set(content_tokens(first.question))
            own_tokens = {tok for i in self.turn_members[t] for tok in content_tokens(entries[i].text)}
            if t > 0 and self.turn_keys[t - 1][0] == conv:
                self.turn_prev[t] = t - 1
                # one content word: surely a follow-up; FOLLOW_UP_WORDS + 1 or more: only if it refers back
                short = min(1.0, max(0.0, 1 - (len(q_tokens) - 1) / FOLLOW_UP_WORDS))
                anaphoric = bool(ANAPHORA.search(first.question))
                reuse = len(q_tokens & prev_tokens) / max(1, len(q_tokens))
                self.turn_carry[t] = CARRY * max(short, 0.6 * float(anaphoric), min(1.0, 2 * reuse))
            prev_tokens = q_tokens | own_tokens

    def _carry(self, score: np.ndarray) -> np.ndarray:
        """Sentence scores plus the relevance their answer inherits from the exchanges before it."""
        n = len(self.turn_keys)
        best = np.zeros(n)
        np.maximum.at(best, self.turn_of, score)
        inherited = np.zeros(n)
        ctx = np.zeros(n)
        for t in range(n):
            p = self.turn_prev[t]
            if p >= 0:
                inherited[t] = self.turn_carry[t] * ctx[p]
            ctx[t] = max(best[t], inherited[t])
        return score + inherited[self.turn_of]

    def set_topics(self, topics: list[dict[str, Any]]) -> None:
        """The campaign's topics (name, goal, questions) as a route from a question to processes:
        a query that echoes a topic's questions is about that topic's processes (by category)."""
        cats = {c["name"]: c["id"] for c in self.categories}
        self.topic_texts = []
        for t in topics:
            cid = cats.get(t.get("name", ""))
            if cid is None:
                continue
            text = " ".join([t.get("name", ""), t.get("description") or "", *(t.get("questions") or [])])
            self.topic_texts.append((cid, text))
        self.topic_lex = self.vec.transform([t for _, t in self.topic_texts]) if self.topic_texts else None

    def topic_relevance(self, qv) -> dict[str, float]:  # type: ignore[no-untyped-def]
        if self.topic_lex is None:
            return {}
        sims = np.asarray((self.topic_lex @ qv.T).todense()).ravel()
        return {cid: float(v) for (cid, _), v in zip(self.topic_texts, sims, strict=True)}

    @classmethod
    def build(
        cls, inputs: list[Any], synthesis: dict[str, Any], embed, topics: list[dict[str, Any]] | None = None
    ) -> QueryIndex:
        """From synthesis inputs (`ConversationInput`s) and the synthesis result."""
        processes = synthesis.get("cartography", {}).get("processes", [])
        quote_proc: dict[tuple[str, str], list[str]] = defaultdict(list)
        for p in processes:
            for ev in p.get("evidence", []):
                quote_proc[(ev["conversation_id"], ev["quote"])].append(p["id"])
        assign = synthesis.get("_assign") or synthesis.get("assignments") or {}
        entries: list[Entry] = []
        mats = []
        for conv in inputs:
            for s in conv.analysis.sentences:
                pids = assign.get(f"{conv.conversation_id}:{s.idx}") or quote_proc.get(
                    (conv.conversation_id, s.text), []
                )
                entries.append(
                    Entry(
                        s.text,
                        conv.conversation_id,
                        conv.contact.id,
                        conv.contact.name,
                        conv.contact.job_title,
                        s.chunk,
                        s.sentiment,
                        list(pids),
                        s.question,
                        s.turn,
                        s.frustration,
                    )
                )
            mats.append(conv.embeddings)
        emb = np.vstack(mats) if mats else np.zeros((0, 1), dtype=np.float32)
        index = cls(entries, emb, processes, embed)
        names = {conv.contact.id: conv.contact.name for conv in inputs}
        units = []
        for persona in synthesis.get("personas", {}).get("personas", []):
            for f in persona.get("frustrations", []):
                for ev in f.get("evidence", [])[:1]:
                    units.append(
                        Unit(
                            ev["quote"],
                            ev["contact_id"],
                            names.get(ev["contact_id"], ""),
                            ev["citation"],
                            f.get("process_id"),
                            f.get("severity", "medium"),
                        )
                    )
        index.set_units(units)
        index.categories = synthesis.get("cartography", {}).get("categories", [])
        index.set_topics(topics or [])
        return index

    def set_units(self, units: list[Unit]) -> None:
        self.units = units
        self.unit_lex = self.vec.transform([u.text for u in units]) if units else None

    # -- retrieval ------------------------------------------------------------------------------

    def _expand(self, query: str, history: list[dict[str, str]] | None) -> str:
        text = query
        if history:
            prior = " ".join(m.get("content", "") for m in history[-4:] if m.get("role") == "user")
            if prior and (
                len(content_tokens(query)) < 4 or re.search(r"\b(it|that|this|they|those|them|more)\b", query, re.I)
            ):
                text = f"{query} {prior}"
        return text

    def _focus(self, text: str) -> str:
        """The query without words every conversation uses, for embedding (static embeddings are
        dominated by rare tokens such as a product name that all participants mention)."""
        kept = []
        for w in re.findall(r"[A-Za-z][A-Za-z'\-]*", text):
            toks = content_tokens(w)
            if not toks:
                continue
            j = self.vec.vocabulary_.get(toks[0])
            if j is None or self.term_weight[j] > 0.25:
                kept.append(w)
        return " ".join(kept) or text

    def _query_vector(self, text: str, expand: bool = True):  # type: ignore[no-untyped-def]
        cache: dict[tuple[str, bool], Any] = self.__dict__.setdefault("_qv_cache", {})
        if (text, expand) in cache:
            return cache[(text, expand)]
        if len(cache) >= 8:
            cache.clear()
        qv = self.vec.transform([text]).multiply(self.term_weight).tocsr()
        if expand:
            qv = self._neighbourhood(text, qv)
        cache[(text, expand)] = qv
        return qv

    def _vocabulary(self) -> tuple[list[int], np.ndarray]:
        """The campaign's own words (one surface form per stem, the most frequent) and their
        embeddings, built on first use: the space a question's words are expanded in."""
        if self._vocab is None:
            surface: dict[str, Counter[str]] = defaultdict(Counter)
            for e in self.entries:
                for w in re.findall(r"[A-Za-z][A-Za-z'\-]*", e.text):
                    toks = content_tokens(w)
                    if len(toks) == 1 and toks[0] in self.vec.vocabulary_:
                        surface[toks[0]][w.lower()] += 1
            # the most used words first, capped: a large campaign's long tail costs embedding time
            terms = sorted(surface, key=lambda t: (-sum(surface[t].values()), t))[:VOCAB_MAX]
            cols = [self.vec.vocabulary_[t] for t in terms]
            words = [surface[t].most_common(1)[0][0] for t in terms]
            emb = self.embed(words) if words else np.zeros((0, 1), dtype=np.float32)
            self._vocab = (cols, np.asarray(emb, dtype=np.float32))
        return self._vocab

    def _neighbourhood(self, text: str, qv):  # type: ignore[no-untyped-def]
        """Query expansion from the embedding neighbourhood of the campaign's own vocabulary: each
        question word adds the participants' words closest to it (a question may say "learn" where
        people said "training"), weighted by closeness and by how distinctive the word is."""
        if EXPAND_WEIGHT <= 0:
            return qv
        words = []
        for w in dict.fromkeys(re.findall(r"[A-Za-z][A-Za-z'\-]*", text)):
            toks = content_tokens(w)
            if len(toks) != 1:
                continue
            j = self.vec.vocabulary_.get(toks[0])
            base = float(qv[0, j]) if j is not None else float(qv.max()) if qv.nnz else 0.3
            if base > 0:
                words.append((w.lower(), j, base))
        cols, vemb = self._vocabulary()
        if not words or not cols:
            return qv
        sims = vemb @ self.embed([w for w, _, _ in words]).T
        add: dict[int, float] = {}
        for n, (_w, j, base) in enumerate(words):
            order = np.argsort(-sims[:, n])[: EXPAND_K + 1]
            for k in order:
                col, sim = cols[int(k)], float(sims[int(k), n])
                if col == j or sim < EXPAND_MIN:
                    continue
                value = EXPAND_WEIGHT * base * sim * float(self.term_weight[col])
                add[col] = max(add.get(col, 0.0), value)
        if not add:
            return qv
        from scipy.sparse import csr_matrix

        extra = csr_matrix((list(add.values()), ([0] * len(add), list(add.keys()))), shape=qv.shape, dtype=np.float32)
        return (qv + extra.multiply(qv.toarray() == 0)).tocsr()

    def _scores(self, text: str, qv=None) -> np.ndarray:  # type: ignore[no-untyped-def]
        qv = self._query_vector(text) if qv is None else qv
        lex = np.asarray((self.lex @ qv.T).todense()).ravel()
        qlex = np.asarray((self.qlex @ qv.T).todense()).ravel()
        qemb = self.embed([self._focus(text)])[0]
        sem = self.emb @ qemb if self.emb.size else np.zeros(len(self.entries))
        tlex = np.asarray((self.tlex @ qv.T).todense()).ravel()
        w = WEIGHTS
        score = w[0] * lex + w[1] * qlex + w[2] * tlex + w[3] * np.clip(sem, 0, None)
        # graph: processes whose name/description overlap the query lift their sentences
        qtok = set(content_tokens(text))
        for p in self.processes:
            ptok = set(content_tokens(f"{p.get('name', '')} {p.get('description', '')}"))
            overlap = len(qtok & ptok) / max(1, len(qtok))
            if overlap >= 0.25:
                for i in self.by_process.get(p["id"], []):
                    score[i] += 0.08 * overlap
        score[self.short] *= 0.5
        score[self.intro] *= INTRO_FACTOR
        return score

    def relevance(self, text: str) -> tuple[np.ndarray, np.ndarray, dict[str, float]]:
        """Sentence relevance (retrieval plus the graph routes plus the dialogue), each sentence's
        own match with the query (to choose what to quote from an answer), process relevance."""
        qv = self._query_vector(text)
        score = self._scores(text, qv)
        own = np.asarray((self.lex @ qv.T).todense()).ravel()
        if self.emb.size:
            own = own + 0.3 * np.clip(self.emb @ self.embed([self._focus(text)])[0], 0, None)
        rel = self.process_relevance(score)
        # the campaign's topics are worded by the researchers, like the question: match them with
        # the question's own words, not with the participants' words the expansion adds
        trel = self.topic_relevance(self._query_vector(text, expand=False))
        if trel and max(trel.values()) > 0:
            ttop = max(trel.values())
            cat_of = {p["id"]: p.get("category_id") for p in self.processes}
            top_rel = max(rel.values(), default=0.0) or 1.0
            for pid in rel:
                share = trel.get(cat_of.get(pid) or "", 0.0) / ttop
                rel[pid] += TOPIC_LIFT * share * top_rel
                # the question names this topic: its sentences are candidates in their own right
                score[self.by_process[pid]] += TOPIC_SENTENCE_LIFT * share * float(score.max())
        if rel:
            top = max(rel.values()) or 1.0
            for pid, value in rel.items():
                if value >= 0.6 * top:
                    score[self.by_process[pid]] += PROCESS_LIFT * value / top
        return self._carry(score), own, rel

    def process_relevance(self, score: np.ndarray) -> dict[str, float]:
        """How strongly each process answers: the mean of its five best sentence scores."""
        rel = {}
        for pid, idx in self.by_process.items():
            best = np.sort(score[idx])[-5:]
            rel[pid] = float(best.mean()) if len(best) else 0.0
        return rel

    # -- answer ---------------------------------------------------------------------------------

    def rank_turns(self, score: np.ndarray) -> list[tuple[int, float]]:
        """Answers (turns) ranked by their best sentence plus half the mean of the next two."""
        order = np.lexsort((-score, self.turn_of))  # by turn, best sentence first
        turns = self.turn_of[order]
        vals = score[order]
        starts = np.r_[0, np.flatnonzero(np.diff(turns)) + 1]
        rank_in_turn = np.arange(len(order)) - np.repeat(starts, np.diff(np.r_[starts, len(order)]))
        n_turns = len(self.turn_members)
        best = np.zeros(n_turns)
        best[turns[rank_in_turn == 0]] = vals[rank_in_turn == 0]
        nxt_sum = np.zeros(n_turns)
        nxt_cnt = np.zeros(n_turns)
        mask = (rank_in_turn >= 1) & (rank_in_turn <= 2)
        np.add.at(nxt_sum, turns[mask], vals[mask])
        np.add.at(nxt_cnt, turns[mask], 1)
        total = best + 0.5 * np.divide(nxt_sum, nxt_cnt, out=np.zeros(n_turns), where=nxt_cnt > 0)
        ranked = np.argsort(-total, kind="stable")[:200]
        return list(zip(ranked.tolist(), total[ranked].tolist(), strict=True))

    def best_span(
        self, t: int, own: np.ndarray, problem: bool, max_sentences: int = 1, max_chars: int = 0
    ) -> list[int]:
        """The sentences of one answer that best answer the query, in their order: each sentence
        counts for its own match with the query and for how much distinctive content it carries
        (the specifics a reader wants), within `max_sentences` and `max_chars`. They need not be
        consecutive (`quote` marks the gaps), so a long answer yields its two key statements."""
        members = self.turn_members[t]
        limit = max_chars or SPAN_CHARS * max_sentences

        def value(i: int) -> float:
            e = self.entries[i]
            v = float(own[i]) + SALIENCE * float(self.info[i])
            v += 0.05 * min(3.0, e.frustration) if problem else 0.0
            return v - (0.2 if len(e.text) < 30 else 0.0)

        values = [value(i) for i in members]
        # the best sentences, in the order they were said, as many as fit
        chosen: list[int] = []
        chars = 0
        for k in sorted(range(len(members)), key=lambda k: -values[k]):
            size = len(self.entries[members[k]].text) + 1
            if chosen and (len(chosen) >= max_sentences or chars + size > limit):
                continue
            chosen.append(k)
            chars += size
        span = [members[k] for k in sorted(chosen)]
        if len(span) == 1 and len(self.entries[span[0]].text) < 60:
            k = members.index(span[0])
            if k + 1 < len(members):
                span = [span[0], members[k + 1]]
        return span

    def quote(self, span: list[int]) -> str:
        """The sentences of a span, verbatim; an ellipsis marks sentences left out between them."""
        out = self.entries[span[0]].text
        for a, b in itertools.pairwise(span):
            gap = b - a > 1  # entries of one answer are consecutive
            out += (" \u2026 " if gap else " ") + self.entries[b].text
        return out

    def answer(
        self, query: str, *, top_k: int = 12, anonymize: bool = False, history: list[dict[str, str]] | None = None
    ) -> dict[str, Any]:
        kind = "divergence" if DIVERGENCE_QUERY.search(query) else "factual"
        problem = kind == "factual" and bool(PROBLEM_QUERY.search(query))
        alias = self._aliases() if anonymize else {}
        if not self.entries:
            result = {
                "answer": "The conversations do not say anything about this yet.",
                "patterns": [],
                "divergences": [],
                "verifications": [],
                "query_type": kind,
                "passages": 0,
            }
            return result
        text = self._expand(query, history)
        score, own, rel = self.relevance(text)
        ranked = self.rank_turns(score)
        # diversity: a few answers per contact, and nothing far below the best answer
        picked: list[int] = []
        per_contact: dict[str, int] = defaultdict(int)
        floor = RELEVANCE_FLOOR * (ranked[0][1] if ranked else 0.0)
        for t, v in ranked:
            cid = self.entries[self.turn_members[t][0]].contact_id
            if per_contact[cid] >= PER_CONTACT or (v < floor and len(picked) >= 4):
                continue
            per_contact[cid] += 1
            picked.append(t)
            if len(picked) >= top_k + 10:
                break
        # the answer: the key sentence(s) of the best answers, one line per answer, as long as it
        # stays readable; the next answers become patterns with a little more of their context
        hits: list[tuple[int, float]] = []
        lines: list[str] = []
        shown: set[str] = set()
        length = 0
        rest = []
        for t in picked:
            span = self.best_span(t, own, problem, max_sentences=ANSWER_SENTENCES)
            quote = self.quote(span)
            if quote in shown:
                continue
            e = self.entries[span[0]]
            line = f"- {alias.get(e.contact_id, e.contact_name)}: \u201c{quote}\u201d"
            if len(lines) >= top_k or (length + len(line) > ANSWER_CHARS and len(lines) >= MIN_LINES):
                rest.append(t)
                continue
            shown.add(quote)
            length += len(line) + 1
            lines.append(line)
            hits.append((span[0], float(score[span[0]])))
        contacts = {self.entries[i].contact_id for i, _ in hits}
        answer = "\n".join([f"{len(contacts)} participant(s):", *lines])
        patterns = self._unit_patterns(text, rel, problem)
        shown.update(p["claim"] for p in patterns)
        spans = []
        for t in rest:
            if len(patterns) + len(spans) >= 10:
                break
            span = self.best_span(t, own, problem, max_sentences=PATTERN_SENTENCES)
            claim = self.quote(span)
            if claim not in shown:
                shown.add(claim)
                spans.append((span, claim))
        # support: contacts who said something near-identical (one matrix product for all claims)
        sims = self.emb @ self.emb[[sp[0] for sp, _ in spans]].T if self.emb.size and spans else None
        for n, (span, claim) in enumerate(spans):
            support = {self.entries[span[0]].contact_id}
            if sims is not None:
                for j in np.where(sims[:, n] >= 0.8)[0][:20]:
                    support.add(self.entries[int(j)].contact_id)
            patterns.append(
                {
                    "claim": claim,
                    "supporting_contacts": len(support),
                    "citations": sorted({self.entries[i].citation for i in span}),
                }
            )
        divergences = self._divergences(hits if kind == "factual" else None)
        verifications = self._verifications(hits)
        result = {
            "answer": answer,
            "patterns": patterns,
            "divergences": divergences,
            "verifications": verifications,
            "query_type": kind,
            "passages": len(hits),
        }
        if anonymize:
            result = self._anonymize(result, alias)
        return result

    def _unit_patterns(self, text: str, rel: dict[str, float], problem: bool) -> list[dict[str, Any]]:
        """Pain points of the processes the question is about, as patterns (most relevant first)."""
        if not self.units or self.unit_lex is None:
            return []
        qv = self._query_vector(text)
        lexical = np.asarray((self.unit_lex @ qv.T).todense()).ravel()
        lex_max = float(lexical.max()) or 1.0
        top = max(rel.values(), default=0.0) or 1.0
        scored = []
        for n, u in enumerate(self.units):
            prel = rel.get(u.process_id or "", 0.0) / top
            value = 0.5 * lexical[n] / lex_max + 0.5 * prel
            if problem:
                value += {"high": 0.1, "medium": 0.05}.get(u.severity, 0.0)
            scored.append((value, n))
        scored.sort(key=lambda t: -t[0])
        limit = UNIT_PATTERNS if problem else UNIT_PATTERNS // 2
        out, seen_contacts = [], defaultdict(int)
        for value, n in scored:
            u = self.units[n]
            if value < 0.35 or len(out) >= limit or seen_contacts[u.contact_id] >= 2:
                continue
            seen_contacts[u.contact_id] += 1
            out.append({"claim": u.text, "supporting_contacts": 1, "citations": [u.citation]})
        return out

    def _patterns(self, hits: list[tuple[int, float]]) -> list[dict[str, Any]]:
        groups: list[list[int]] = []
        for i, _ in hits:
            for g in groups:
                if self.emb.size and float(self.emb[i] @ self.emb[g[0]]) >= 0.6:
                    g.append(i)
                    break
            else:
                groups.append([i])
        out = []
        for g in groups[:10]:
            support = {self.entries[i].contact_id for i in g}
            # widen support: other contacts with a near-identical statement
            if self.emb.size:
                sims = self.emb @ self.emb[g[0]]
                for j in np.where(sims >= 0.8)[0][:20]:
                    support.add(self.entries[int(j)].contact_id)
            out.append(
                {
                    "claim": self.entries[g[0]].text,
                    "supporting_contacts": len(support),
                    "citations": sorted({self.entries[i].citation for i in g}),
                }
            )
        out.sort(key=lambda p: -p["supporting_contacts"])
        return out

    def _divergences(self, hits: list[tuple[int, float]] | None) -> list[dict[str, Any]]:
        """Contacts who speak about the same process with opposite stance or contrast cues."""
        pool: dict[str, list[int]] = defaultdict(list)
        if hits is None:
            for pid, idx in self.by_process.items():
                pool[pid] = idx
        else:
            for i, _ in hits:
                for pid in self.entries[i].process_ids:
                    pool[pid].extend(self.by_process.get(pid, []))
        names = {p["id"]: p["name"] for p in self.processes}
        found = []
        for pid, idx in pool.items():
            stance = [i for i in set(idx) if self.contrast[i]]
            pos = [i for i in stance if self.entries[i].sentiment >= 0.3]
            neg = [i for i in stance if self.entries[i].sentiment <= -0.3]
            pair = None
            for a in sorted(pos, key=lambda i: -self.entries[i].sentiment):
                for b in sorted(neg, key=lambda i: self.entries[i].sentiment):
                    if self.entries[a].contact_id != self.entries[b].contact_id:
                        pair = (a, b)
                        break
                if pair:
                    break
            if pair is None:
                by_contact = defaultdict(list)
                for i in stance:
                    by_contact[self.entries[i].contact_id].append(i)
                if len(by_contact) >= 2:
                    firsts = [v[0] for v in list(by_contact.values())[:2]]
                    pair = (firsts[0], firsts[1])
            if pair is None:
                continue
            a, b = (self.entries[pair[0]], self.entries[pair[1]])
            contacts = {e.contact_id for e in (self.entries[i] for i in stance)}
            found.append(
                (
                    len(contacts),
                    {
                        "claim": f"On {names.get(pid, 'this')}, views differ: \u201c{a.text}\u201d ({a.contact_name}) "
                        f"versus \u201c{b.text}\u201d ({b.contact_name})",
                        "contacts": len(contacts),
                        "citations": [a.citation, b.citation],
                    },
                )
            )
        found.sort(key=lambda t: -t[0])
        return [d for _, d in found[:10]]

    def _verifications(self, hits: list[tuple[int, float]]) -> list[dict[str, Any]]:
        facts = [i for i, _ in hits if self.numeric[i]][:6]
        if not facts:
            return []
        sims = self.emb @ self.emb[facts].T if self.emb.size else None
        out = []
        for n, i in enumerate(facts):
            e = self.entries[i]
            confirmed = {e.contact_id}
            if sims is not None:
                for j in np.where(sims[:, n] >= 0.7)[0][:30]:
                    confirmed.add(self.entries[int(j)].contact_id)
            out.append({"fact": e.text, "confirmed_by": len(confirmed), "citations": [e.citation]})
        return out

    # -- anonymisation ---------------------------------------------------------------------------

    def _aliases(self) -> dict[str, str]:
        ids = sorted(
            {e.contact_id for e in self.entries},
            key=lambda c: next((e.contact_name for e in self.entries if e.contact_id == c), c),
        )
        return {cid: f"Participant {n + 1}" for n, cid in enumerate(ids)}

    def _anonymize(self, result: dict[str, Any], alias: dict[str, str]) -> dict[str, Any]:
        tokens = set()
        for name in self.names:
            tokens.add(name)
            tokens.update(p for p in name.split() if len(p) >= 2)
        if not tokens:
            return result
        pattern = re.compile(r"\b(" + "|".join(re.escape(t) for t in sorted(tokens, key=len, reverse=True)) + r")\b")

        def scrub(value: Any) -> Any:
            if isinstance(value, str):
                return pattern.sub("[participant]", value)
            if isinstance(value, list):
                return [scrub(v) for v in value]
            if isinstance(value, dict):
                return {k: scrub(v) for k, v in value.items()}
            return value

        return scrub(result)
