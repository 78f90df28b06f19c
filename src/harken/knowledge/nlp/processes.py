"""Process discovery: seeded clustering of participant sentences.

The campaign's own topics and sub-topics (what the researcher set out to learn) seed the clusters;
sentences are represented by TF-IDF over stemmed content words plus a sentence embedding with the
interviewer's question as context. Centroids are refined by pseudo-relevance feedback (a few rounds
of seeded spherical k-means), so a seed such as "Request channels" learns the vocabulary the
participants actually used. Sentences that fit no seed stay unassigned (emergent, unseeded processes
are not discovered yet). Nothing here knows any domain's vocabulary.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import numpy as np

from harken.knowledge.nlp.text import STOPWORDS, ConversationTfidf, content_tokens, stem, words

# weight of the interviewer's question and of the whole answer in a sentence's lexical vector
QUESTION_WEIGHT = 0.5
TURN_WEIGHT = 0.0
# share of informative sentences left unassigned (the weaker fits)
ASSIGN_Q = 0.55


@dataclass
class Seed:
    name: str
    category: str
    text: str


@dataclass
class ProcessCluster:
    name: str
    category: str
    members: list[int] = field(default_factory=list)  # global sentence index
    scores: dict[int, float] = field(default_factory=dict)
    terms: list[str] = field(default_factory=list)
    seeded: bool = True


def seeds_from_topics(topics: list[dict]) -> list[Seed]:
    seeds: list[Seed] = []
    for topic in topics:
        name = (topic.get("name") or "").strip()
        if not name:
            continue
        subs = [s for s in (topic.get("sub_topics") or []) if isinstance(s, str) and s.strip()]
        if subs:
            for sub in subs:
                seeds.append(Seed(sub.strip(), name, sub.strip()))
        else:
            desc = topic.get("description") or topic.get("goal") or ""
            seeds.append(Seed(name, name, f"{name}. {desc}"))
    return seeds


def _analyzer(text: str) -> list[str]:
    toks = content_tokens(text)
    return toks + [f"{a}_{b}" for a, b in itertools.pairwise(toks)]


def _normalise_rows(m: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(m, axis=1, keepdims=True)
    n[n == 0] = 1.0
    return m / n


def discover_processes(
    texts: list[str],
    contexts: list[str],
    sent_emb: np.ndarray,
    contacts: list[str],
    seeds: list[Seed],
    embed,  # callable list[str] -> np.ndarray
    *,
    rounds: int = 4,
    turns: list[str] | None = None,
) -> tuple[list[ProcessCluster], np.ndarray, np.ndarray]:
    """Assign sentences to the seeded processes.

    Returns the clusters, the per-sentence best cluster index (-1 when none) and its score.
    """
    n = len(texts)
    if n == 0 or not seeds:
        return [], np.full(n, -1), np.zeros(n)
    vec = ConversationTfidf().fit(texts + [s.text for s in seeds], list(contacts) + ["__seeds__"] * len(seeds))
    lex_sent = vec.transform(texts)
    lex_seed = vec.transform([s.text for s in seeds])
    # lexical context: the interviewer's question and the rest of the answer colour each sentence
    if QUESTION_WEIGHT and contexts:
        lex_sent = lex_sent + QUESTION_WEIGHT * vec.transform(contexts)
    if TURN_WEIGHT and turns:
        turn_text: dict[str, list[str]] = defaultdict(list)
        for key, text in zip(turns, texts, strict=True):
            turn_text[key].append(text)
        lex_sent = lex_sent + TURN_WEIGHT * vec.transform([" ".join(turn_text[k]) for k in turns])
    if (QUESTION_WEIGHT and contexts) or (TURN_WEIGHT and turns):
        from sklearn.preprocessing import normalize as _l2

        lex_sent = _l2(lex_sent).astype(np.float32)
    # context: the sentence plus a little of the interviewer's question
    ctx_emb = sent_emb
    if contexts:
        q_emb = embed(contexts)
        ctx_emb = _normalise_rows(sent_emb + 0.35 * q_emb)
    seed_emb = embed([s.text for s in seeds])
    informative = np.array([len(content_tokens(t)) >= 3 for t in texts])

    lex_c = lex_seed.toarray()
    emb_c = seed_emb.copy()
    sent_lex = lex_sent.tocsr()
    for r in range(rounds):
        s_lex = np.asarray(sent_lex @ lex_c.T)
        s_emb = ctx_emb @ emb_c.T
        score = 0.65 * s_lex + 0.35 * np.clip(s_emb, 0, None)
        score[~informative] = 0.0
        best = score.argmax(axis=1)
        best_score = score.max(axis=1)
        if r == rounds - 1:
            break
        # feedback: each centroid moves towards its most confident sentences, anchored on the seed
        for k in range(len(seeds)):
            idx = np.where(best == k)[0]
            if len(idx) == 0:
                continue
            top = idx[np.argsort(-best_score[idx])][: max(5, min(40, len(idx) // 2))]
            fb_lex = np.asarray(sent_lex[top].mean(axis=0)).ravel()
            fb_emb = ctx_emb[top].mean(axis=0)
            seed_lex = lex_seed[k].toarray().ravel()
            lex_c[k] = _unit(0.5 * _unit(seed_lex) + 0.5 * _unit(fb_lex))
            emb_c[k] = _unit(0.5 * seed_emb[k] + 0.5 * _unit(fb_emb))
    clusters = [ProcessCluster(s.name, s.category) for s in seeds]
    threshold = _threshold(best_score[informative]) if informative.any() else 1.0
    assign = np.where(best_score >= threshold, best, -1)
    for i in range(n):
        if assign[i] >= 0:
            clusters[assign[i]].members.append(i)
            clusters[assign[i]].scores[i] = float(best_score[i])
    feature_names = np.array(vec.feature_names())
    for k, cl in enumerate(clusters):
        cl.terms = _top_terms(lex_c[k], feature_names, texts, cl.members)
    return clusters, assign, best_score


def _unit(v: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(v))
    return v / norm if norm else v


def _threshold(scores: np.ndarray) -> float:
    """Keep the better-fitting informative sentences (and never below a floor)."""
    return max(0.12, float(np.quantile(scores, ASSIGN_Q)))


def _top_terms(centroid: np.ndarray, names: np.ndarray, texts: list[str], members: list[int], k: int = 8) -> list[str]:
    """Readable surface forms of the centroid's heaviest stems (bigrams first)."""
    order = np.argsort(-centroid)[: k * 3]
    surface = _surface_forms([texts[i] for i in members])
    out: list[str] = []
    for j in order:
        if centroid[j] <= 0:
            break
        key = str(names[j])
        form = surface.get(key)
        if form and form not in out:
            out.append(form)
        if len(out) >= k:
            break
    return out


def _surface_forms(texts: list[str]) -> dict[str, str]:
    """Map stem keys (and stem bigram keys) to their most frequent surface wording."""
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for text in texts:
        toks = [w for w in words(text) if w.lower() not in STOPWORDS and len(w) >= 3]
        stems = [stem(w.lower()) for w in toks]
        for w, s in zip(toks, stems, strict=False):
            counts[s][w.lower()] += 1
        for (w1, s1), (w2, s2) in zip(
            zip(toks, stems, strict=False), list(zip(toks, stems, strict=False))[1:], strict=False
        ):
            counts[f"{s1}_{s2}"][f"{w1.lower()} {w2.lower()}"] += 1
    return {k: c.most_common(1)[0][0] for k, c in counts.items()}


_WS = re.compile(r"\s+")
