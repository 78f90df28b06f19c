"""Knowledge benchmark: process recovery against a BERTopic-style baseline, synthesis scaling, and
graph-query latency. Run: `.venv/bin/python -m bench.synthesis` (add `--sizes 10 50` to shorten).

1. On each labelled set, Harken's synthesis and a BERTopic-style baseline (embeddings → HDBSCAN →
   c-TF-IDF topic names, representative sentences as evidence, written with sklearn) are scored with
   the scorer's own `score()` function (`../shared/tools/score_synthesis.py`), side by side, timed.
2. Campaigns of 10, 50 and 200 conversations (facility-ops transcripts duplicated under new contacts,
   with turns dropped at random) go through the whole pipeline in a fresh process each: analysis,
   embeddings, synthesis; wall time and peak RSS are printed.
3. Graph-query latency (p50/p95 over 40 questions) on the 200-conversation campaign.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench._offline import SHARED, build_inputs, campaign_input, load_set, run, scorer
from harken.knowledge.nlp.embeddings import get_embedder
from harken.knowledge.nlp.synthesis import synthesize

SETS = ("facility-ops", "saas-onboarding")
# BERTopic-style settings: 5-dimensional reduction (as UMAP n_components=5), HDBSCAN clusters
BASE_DIMS, BASE_MCS, BASE_MS = 10, 5, 2
PROCESS_KEYS = ("process_recall", "process_precision", "process_f1", "process_count", "process_contact_jaccard")


def baseline_out(ds: Path, kmeans: bool = False) -> dict[str, Any]:
    """BERTopic-style topics as processes (HDBSCAN, or k-means with k = the number of sub-topics,
    i.e. the same prior knowledge Harken's seeds get)."""
    from sklearn.cluster import HDBSCAN
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import CountVectorizer

    from harken.knowledge.nlp.text import split_sentences

    embedder = get_embedder()
    campaign, contacts, convs = load_set(ds)
    sents, who, conv_of = [], [], []
    for c in contacts:
        for t in convs[c["ref"]]["turns"]:
            if t["speaker"] == "participant":
                for sp in split_sentences(t["text"]):
                    if len(sp.text.split()) >= 5:
                        sents.append(sp.text)
                        who.append(c["ref"])
                        conv_of.append(f"cv-{c['ref']}")
    emb = embedder.embed(sents)
    reduced = TruncatedSVD(n_components=BASE_DIMS, random_state=0).fit_transform(emb)
    if kmeans:
        from sklearn.cluster import KMeans

        k = sum(max(1, len(t.get("sub_topics") or [])) for t in campaign.get("topics", []))
        labels = KMeans(n_clusters=k, n_init=10, random_state=0).fit_predict(emb)
    else:
        labels = HDBSCAN(min_cluster_size=BASE_MCS, min_samples=BASE_MS, copy=True).fit_predict(reduced)
    topics = sorted(set(labels) - {-1})
    docs = [" ".join(s for s, lab in zip(sents, labels, strict=True) if lab == k) for k in topics]
    cv = CountVectorizer(stop_words="english", ngram_range=(1, 2), min_df=1)
    tf = cv.fit_transform(docs).toarray().astype(float)
    # c-TF-IDF: class term frequency x log(1 + average words per class / term frequency over classes)
    avg = tf.sum() / max(1, len(topics))
    ctfidf = (tf / np.maximum(tf.sum(axis=1, keepdims=True), 1)) * np.log(1 + avg / np.maximum(tf.sum(axis=0), 1))
    vocab = cv.get_feature_names_out()
    processes = []
    for n, k in enumerate(topics):
        idx = [i for i, lab in enumerate(labels) if lab == k]
        centroid = emb[idx].mean(axis=0)
        rep = sorted(idx, key=lambda i: -float(emb[i] @ centroid))[:5]
        words = [vocab[j] for j in np.argsort(-ctfidf[n])[:4]]
        members = sorted({who[i] for i in idx})
        processes.append(
            {
                "id": f"t{k}",
                "name": "_".join(words),
                "description": "",
                "category_id": "c0",
                "contact_ids": members,
                "consensus": "common",
                "evidence": [{"conversation_id": conv_of[i], "contact_id": who[i], "quote": sents[i]} for i in rep],
            }
        )
    return {
        "ref_of": {c["ref"]: c["ref"] for c in contacts},
        "seconds_to_synthesis": 0.0,
        "cartography": {"processes": processes},
        "roadmap": {"phases": []},
        "personas": {"personas": []},
        "conversations": {"items": [{"id": f"cv-{c['ref']}", "contact_id": c["ref"]} for c in contacts]},
        "answers": [],
    }


def quality() -> dict[str, Any]:
    score = scorer().score
    report = {}
    for name in SETS:
        ds = SHARED / "data" / "synthesis" / name
        t0 = time.perf_counter()
        ours = score(ds, run(ds, with_answers=True))
        t_ours = time.perf_counter() - t0
        t0 = time.perf_counter()
        base = score(ds, baseline_out(ds))
        t_base = time.perf_counter() - t0
        t0 = time.perf_counter()
        km = score(ds, baseline_out(ds, kmeans=True))
        t_km = time.perf_counter() - t0
        report[name] = {
            "harken": ours,
            "harken_seconds": t_ours,
            "baseline": base,
            "baseline_seconds": t_base,
            "kmeans": km,
            "kmeans_seconds": t_km,
        }
    return report


# -- scaling ------------------------------------------------------------------------------------


def synthetic_campaign(n: int, seed: int = 7) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any]]:
    ds = SHARED / "data" / "synthesis" / "facility-ops"
    campaign, contacts, convs = load_set(ds)
    rng = random.Random(seed)
    out_contacts, out_convs = [], {}
    for i in range(n):
        src = contacts[i % len(contacts)]
        ref = f"s{i:04d}"
        out_contacts.append(
            {**src, "ref": ref, "name": f"{src['name'].split()[0]} Clone{i}", "email": f"{ref}@example.com"}
        )
        turns = list(convs[src["ref"]]["turns"])
        if i >= len(contacts):  # perturb copies: drop a few exchanges
            for _ in range(3):
                k = rng.randrange(2, max(3, len(turns) - 2))
                del turns[k : k + 2]
        out_convs[ref] = {"turns": turns}
    return campaign, out_contacts, out_convs


def scale_child(n: int) -> dict[str, Any]:
    t0 = time.perf_counter()
    embedder = get_embedder()
    campaign, contacts, convs = synthetic_campaign(n)
    t1 = time.perf_counter()
    inputs = build_inputs(contacts, convs, embedder)
    t2 = time.perf_counter()
    result = synthesize(campaign_input(campaign), inputs, embedder.embed)
    t3 = time.perf_counter()
    out = {
        "conversations": n,
        "load_s": round(t1 - t0, 2),
        "ingest_s": round(t2 - t1, 2),
        "synthesis_s": round(t3 - t2, 2),
        "total_s": round(t3 - t0, 2),
        "processes": len(result["cartography"]["processes"]),
        "sentences": sum(len(c.analysis.sentences) for c in inputs),
    }
    if n >= 200:
        from harken.knowledge.nlp.query import QueryIndex

        t4 = time.perf_counter()
        index = QueryIndex.build(inputs, result, embedder.embed)
        out["index_build_s"] = round(time.perf_counter() - t4, 2)
        questions = [
            q["text"]
            for t in json.loads((SHARED / "data/synthesis/facility-ops/campaign.json").read_text())["topics"]
            for q in t["questions"]
        ]
        questions = (questions * 5)[:40]
        lat = []
        for q in questions:
            s = time.perf_counter()
            index.answer(q)
            lat.append(time.perf_counter() - s)
        out["query_p50_ms"] = round(1000 * float(np.percentile(lat, 50)), 1)
        out["query_p95_ms"] = round(1000 * float(np.percentile(lat, 95)), 1)
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return out


def scaling(sizes: list[int]) -> list[dict[str, Any]]:
    rows = []
    for n in sizes:
        proc = subprocess.run(
            [sys.executable, "-m", "bench.synthesis", "--child", str(n)],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).resolve().parents[1],
        )
        rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    return rows


def server_scaling(base_url: str, api_key: str, sizes: list[int], pid: int | None) -> list[dict[str, Any]]:
    """The same campaigns through a running `harken serve`: import, complete, wait for synthesis."""
    from harness import Api, current_workspace

    api = Api(base_url, api_key, timeout=300)
    ws = current_workspace(api)
    rows = []
    for n in sizes:
        campaign, contacts, convs = synthetic_campaign(n)
        iv = api.post(
            "/v1/interviews",
            {"workspace_id": ws, "name": f"bench {n} {int(time.time())}", "goal": campaign.get("goal")},
        )
        iid = iv["id"]
        for i, t in enumerate(campaign.get("topics", [])):
            api.post(
                f"/v1/interviews/{iid}/question-sets",
                {
                    "name": t["name"],
                    "description": t.get("goal"),
                    "sort_order": i,
                    "topic_metadata": {
                        "priority": t.get("priority", "required"),
                        "sub_topics": t.get("sub_topics", []),
                    },
                    "questions": [{"question_text": q["text"], "sort_order": j} for j, q in enumerate(t["questions"])],
                },
            )
        created = api.post(
            f"/v1/interviews/{iid}/contacts/bulk",
            {"contacts": [{k: v for k, v in c.items() if k != "ref"} for c in contacts]},
        )["created"]
        ids = {c["email"]: c["id"] for c in created}
        t0 = time.perf_counter()
        for c in contacts:
            api.post(
                f"/v1/interviews/{iid}/conversations/import",
                {"contact_id": ids[c["email"]], "turns": convs[c["ref"]]["turns"]},
            )
        t_import = time.perf_counter() - t0
        api.post(f"/v1/interviews/{iid}/complete")
        api.wait(
            "synthesis", lambda iid=iid: api.get(f"/v1/interviews/{iid}/synthesis")["status"] == "completed", 1800, 0.5
        )
        t_total = time.perf_counter() - t0
        row: dict[str, Any] = {
            "conversations": n,
            "import_s": round(t_import, 1),
            "import_to_synthesis_completed_s": round(t_total, 1),
        }
        if n >= 200:
            questions = [q["text"] for t in campaign["topics"] for q in t["questions"]]
            api.post(f"/v1/interviews/{iid}/graph/query", {"query": questions[0]})  # builds the cached index
            lat = []
            for q in (questions * 3)[:30]:
                s = time.perf_counter()
                api.post(f"/v1/interviews/{iid}/graph/query", {"query": q})
                lat.append(time.perf_counter() - s)
            row["http_query_p50_ms"] = round(1000 * float(np.percentile(lat, 50)), 1)
            row["http_query_p95_ms"] = round(1000 * float(np.percentile(lat, 95)), 1)
        if pid:
            status = Path(f"/proc/{pid}/status").read_text()
            row["server_peak_rss_mb"] = round(
                int(next(x for x in status.splitlines() if x.startswith("VmHWM")).split()[1]) / 1024, 1
            )
        rows.append(row)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="*", default=[10, 50, 200])
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--skip-quality", action="store_true")
    ap.add_argument("--server", help="also run the sizes through a running harken serve at this URL")
    ap.add_argument("--api-key")
    ap.add_argument("--server-pid", type=int, help="pid of that server, to read its peak RSS")
    args = ap.parse_args()
    if args.child:
        print(json.dumps(scale_child(args.child)))
        return
    if not args.skip_quality:
        print("== process recovery: Harken vs BERTopic-style baseline (same scorer, same transcripts)")
        for name, r in quality().items():
            print(
                f"-- {name}: harken {r['harken_seconds']:.1f}s (whole synthesis + 6 queries), "
                f"bertopic-hdbscan {r['baseline_seconds']:.1f}s, bertopic-kmeans {r['kmeans_seconds']:.1f}s"
            )
            for k in PROCESS_KEYS:
                print(
                    f"   {k:<26} harken {r['harken'][k]:>6.3f}   bertopic-hdbscan {r['baseline'][k]:>6.3f}"
                    f"   bertopic-kmeans {r['kmeans'][k]:>6.3f}"
                )
            print("   full scorer output (harken, in-process):")
            for k, v in r["harken"].items():
                print(f"     {k:<26} {v:.3f}" if isinstance(v, float) else f"     {k:<26} {v}")
    print("== scaling (fresh process per size: analysis + embeddings + synthesis)")
    for row in scaling(args.sizes):
        print("   " + json.dumps(row))
    if args.server:
        print("== scaling through the server (import, complete, wait for synthesis.completed state)")
        for row in server_scaling(args.server, args.api_key, args.sizes, args.server_pid):
            print("   " + json.dumps(row))


if __name__ == "__main__":
    main()
