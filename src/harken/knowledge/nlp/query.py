"""Graph query: hybrid retrieval over participant sentences (lexical TF-IDF + embeddings), widened
through the knowledge graph (sentences of the processes the question names), then an extractive
answer, patterns, divergences and verifications. No language model is needed; when one is
configured the service may rewrite the answer, but the evidence stays these verbatim quotes.
"""

from __future__ import annotations

import itertools
import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from harken.knowledge.nlp.text import ConversationTfidf, content_tokens

# weight of the participants' self-introductions, and the floor of a query term's weight
INTRO_FACTOR = 0.6
TERM_FLOOR = 0.5
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

    @property
    def citation(self) -> str:
        return f"{self.conversation_id}:chunk_{self.chunk}"


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
        q_texts = [e.question for e in entries] or ["empty"]
        self.qlex = self.vec.transform(q_texts)
        # turn-level text: a sentence inherits part of its answer's relevance
        turn_text: dict[tuple[str, str], list[str]] = defaultdict(list)
        for e in entries:
            turn_text[(e.conversation_id, e.question)].append(e.text)
        self.tlex = self.vec.transform(
            [" ".join(turn_text[(e.conversation_id, e.question)]) for e in entries] or ["empty"]
        )
        # the first answer of each conversation is usually the participant introducing themselves
        first_q: dict[str, str] = {}
        for e in entries:
            first_q.setdefault(e.conversation_id, e.question)
        self.intro = np.array([e.question == first_q[e.conversation_id] for e in entries], dtype=bool)
        self.by_process: dict[str, list[int]] = defaultdict(list)
        for i, e in enumerate(entries):
            for pid in e.process_ids:
                self.by_process[pid].append(i)
        self.names = sorted({e.contact_name for e in entries if e.contact_name}, key=len, reverse=True)

    @classmethod
    def build(cls, inputs: list[Any], synthesis: dict[str, Any], embed) -> QueryIndex:
        """From synthesis inputs (`ConversationInput`s) and the synthesis result."""
        processes = synthesis.get("cartography", {}).get("processes", [])
        quote_proc: dict[tuple[str, str], list[str]] = defaultdict(list)
        for p in processes:
            for ev in p.get("evidence", []):
                quote_proc[(ev["conversation_id"], ev["quote"])].append(p["id"])
        assign = synthesis.get("_assign", {})
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
                    )
                )
            mats.append(conv.embeddings)
        emb = np.vstack(mats) if mats else np.zeros((0, 1), dtype=np.float32)
        return cls(entries, emb, processes, embed)

    # -- retrieval ------------------------------------------------------------------------------

    def retrieve(
        self, query: str, top_k: int = 12, history: list[dict[str, str]] | None = None
    ) -> list[tuple[int, float]]:
        if not self.entries:
            return []
        text = query
        if history:
            prior = " ".join(m.get("content", "") for m in history[-4:] if m.get("role") == "user")
            if prior and (
                len(content_tokens(query)) < 4 or re.search(r"\b(it|that|this|they|those|them|more)\b", query, re.I)
            ):
                text = f"{query} {prior}"
        qv = self.vec.transform([text]).multiply(self.term_weight).tocsr()
        lex = np.asarray((self.lex @ qv.T).todense()).ravel()
        qlex = np.asarray((self.qlex @ qv.T).todense()).ravel()
        qemb = self.embed([text])[0]
        sem = self.emb @ qemb if self.emb.size else np.zeros(len(self.entries))
        tlex = np.asarray((self.tlex @ qv.T).todense()).ravel()
        score = 0.40 * lex + 0.25 * qlex + 0.20 * tlex + 0.15 * np.clip(sem, 0, None)
        # graph: processes whose name/description overlap the query lift their sentences
        qtok = set(content_tokens(text))
        for p in self.processes:
            ptok = set(content_tokens(f"{p.get('name', '')} {p.get('description', '')}"))
            overlap = len(qtok & ptok) / max(1, len(qtok))
            if overlap >= 0.25:
                for i in self.by_process.get(p["id"], []):
                    score[i] += 0.08 * overlap
        short = np.array([len(e.text) < 25 for e in self.entries])
        score[short] *= 0.5
        score[self.intro] *= INTRO_FACTOR
        # MMR over the candidates for diversity of content and contacts
        cand = list(np.argsort(-score)[: max(60, top_k * 5)])
        chosen: list[int] = []
        per_contact: dict[str, int] = defaultdict(int)
        while cand and len(chosen) < top_k:
            best, best_val = None, -1e9
            for i in cand:
                red = max((float(self.emb[i] @ self.emb[j]) for j in chosen), default=0.0) if self.emb.size else 0.0
                val = score[i] - 0.25 * red - 0.04 * per_contact[self.entries[i].contact_id]
                if val > best_val:
                    best, best_val = i, val
            assert best is not None
            cand.remove(best)
            if score[best] <= 0:
                break
            chosen.append(int(best))
            per_contact[self.entries[best].contact_id] += 1
        return [(i, float(score[i])) for i in chosen]

    # -- answer ---------------------------------------------------------------------------------

    def answer(
        self, query: str, *, top_k: int = 12, anonymize: bool = False, history: list[dict[str, str]] | None = None
    ) -> dict[str, Any]:
        kind = "divergence" if DIVERGENCE_QUERY.search(query) else "factual"
        pool = self.retrieve(query, top_k=top_k * 2, history=history)
        hits = pool[:top_k]
        alias = self._aliases() if anonymize else {}
        contacts = {self.entries[i].contact_id for i, _ in hits}
        if not hits:
            answer = "The conversations do not say anything about this yet."
        else:
            lines = [f"{len(contacts)} participant(s):"]
            for i, _ in hits:
                e = self.entries[i]
                who = alias.get(e.contact_id, e.contact_name)
                lines.append(f"- {who}: \u201c{e.text}\u201d")
            answer = "\n".join(lines)
        patterns = self._patterns(pool[len(hits) // 2 :] + pool[: len(hits) // 2])
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
            stance = [i for i in set(idx) if CONTRAST.search(self.entries[i].text)]
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
        out = []
        for i, _ in hits:
            e = self.entries[i]
            if not re.search(r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten)\b", e.text, re.I):
                continue
            confirmed = {e.contact_id}
            if self.emb.size:
                sims = self.emb @ self.emb[i]
                for j in np.where(sims >= 0.7)[0][:30]:
                    confirmed.add(self.entries[int(j)].contact_id)
            out.append({"fact": e.text, "confirmed_by": len(confirmed), "citations": [e.citation]})
        return out[:6]

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
