"""Interview agent benchmark: elicitation quality, turn latency, concurrent conversations.

    .venv/bin/python bench/agent.py            # everything (about a minute)
    .venv/bin/python bench/agent.py --skip-load  # no server subprocess

1. Elicitation, per labelled campaign in ../shared/data/synthesis/*: simulated respondents built from
   truth.json (facts per contact) answer (a) the Harken agent and (b) a naive baseline that asks each
   topic's questions in order with no follow-ups. Figures: share of planted facts that appear in the
   respondent's turns within the duration, required-topic coverage (one evaluator for both), repeated
   questions, interview minutes (estimated from words exchanged).
2. Latency of the offline agent over 1,000+ turns (p50/p95), baseline agent in the same run.
3. 50 concurrent conversations through the JSON API of a real `harken serve` subprocess, against one
   conversation alone as the baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import re
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))


from harken.conversations.agent import AgentTurn, InterviewContext, OfflineAgent, context_from_dict  # noqa: E402
from harken.conversations.agent import text as T  # noqa: E402
from harken.conversations.agent.engine import estimate_minutes  # noqa: E402
from harken.conversations.simulator import (  # noqa: E402
    Profile,
    SimulatedRespondent,
    facts_mentioned,
    profiles_from_truth,
)

DATA = ROOT.parent / "shared" / "data" / "synthesis"
MAX_TURNS = 200


# -- the naive baseline --------------------------------------------------------------------------


class NaiveAgent:
    """Asks every topic's questions in the campaign's order, no follow-ups, then closes."""

    def _questions(self, ctx: InterviewContext) -> list[str]:
        return [q.render() for topic in ctx.topics for q in topic.questions]

    def opening(self, ctx: InterviewContext) -> AgentTurn:
        questions = self._questions(ctx)
        text = f"Hi, thanks for joining. {questions[0]}"
        return AgentTurn(text, {"i": 0}, False, {}, 0.0)

    def respond(self, ctx: InterviewContext, state: dict[str, Any], transcript: list[dict], answer: str) -> AgentTurn:
        questions = self._questions(ctx)
        i = state["i"] + 1
        if i >= len(questions) or estimate_minutes(transcript) >= ctx.duration_minutes:
            return AgentTurn("Thank you for your time.", {"i": i}, True, {}, 1.0)
        return AgentTurn(f"Thanks. {questions[i]}", {"i": i}, False, {}, i / len(questions))


class PaddedNaiveAgent(NaiveAgent):
    """The naive script plus two generic probes per topic ("what else...", "tell me more..."), so it
    uses about as much time as the Harken agent: separates the effect of time from that of follow-ups."""

    def _questions(self, ctx: InterviewContext) -> list[str]:
        out = []
        for topic in ctx.topics:
            out += [q.render() for q in topic.questions]
            out += [
                f"What else should we know about {topic.name.lower()}?",
                f"Tell me more about {topic.name.lower()}.",
            ]
        return out


# -- one simulated interview ---------------------------------------------------------------------


def interview(agent: Any, ctx: InterviewContext, profile: Profile) -> dict[str, Any]:
    sim = SimulatedRespondent(profile)
    turn = agent.opening(ctx)
    transcript = [{"speaker": "agent", "text": turn.text}]
    latencies: list[float] = []
    for _ in range(MAX_TURNS):
        if turn.done:
            break
        answer = sim.answer(turn.text)
        if answer.strip():
            transcript.append({"speaker": "participant", "text": answer})
        started = time.perf_counter()
        turn = agent.respond(ctx, turn.state, transcript, answer)
        latencies.append(time.perf_counter() - started)
        transcript.append({"speaker": "agent", "text": turn.text})
    return {"transcript": transcript, "latencies": latencies, "done": turn.done}


def question_sentences(transcript: list[dict]) -> list[str]:
    out = []
    for t in transcript:
        if t["speaker"] == "agent":
            out += [T.normalize_question(s) for s in re.split(r"(?<=[.!?])\s+", t["text"]) if s.endswith("?")]
    return out


def coverage(ctx: InterviewContext, transcript: list[dict]) -> dict[str, float]:
    """One evaluator for every agent: a facet (question or sub-topic) is covered when it was asked
    and got a real answer, or when the respondent talked about it (sub-topics)."""
    pairs = []
    for i, t in enumerate(transcript):
        if t["speaker"] == "agent" and i + 1 < len(transcript) and transcript[i + 1]["speaker"] == "participant":
            pairs.append((t["text"].lower(), transcript[i + 1]["text"]))
    said = T.content_stems(" ".join(t["text"] for t in transcript if t["speaker"] == "participant"))
    result = {}
    for topic in ctx.topics:
        covered = 0
        for q in topic.questions:
            if any(
                q.text.lower() in asked and T.classify(ans).kind not in {"empty", "skip", "hostile"}
                for asked, ans in pairs
            ):
                covered += 1
        for sub in topic.sub_topics:
            stems = T.content_stems(sub)
            if (stems and len(stems & said) / len(stems) >= 0.5) or any(sub.lower() in asked for asked, _ in pairs):
                covered += 1
        result[topic.id] = covered / topic.facet_count
    return result


def score(ctx: InterviewContext, profile: Profile, run: dict[str, Any]) -> dict[str, Any]:
    transcript = run["transcript"]
    participant = " ".join(t["text"] for t in transcript if t["speaker"] == "participant")
    found = facts_mentioned(profile, participant)
    cov = coverage(ctx, transcript)
    required = [t for t in ctx.topics if t.priority == "required"]
    questions = question_sentences(transcript)
    return {
        "facts": len(profile.facts),
        "found": len(found),
        "required_cov": statistics.mean(min(1.0, cov[t.id]) for t in required) if required else 1.0,
        "required_met": sum(cov[t.id] >= t.threshold for t in required) / max(1, len(required)),
        "repeats": len(questions) - len(set(questions)),
        "minutes": estimate_minutes(transcript),
        "turns": sum(1 for t in transcript if t["speaker"] == "participant"),
        "done": run["done"],
    }


def elicitation(style: str = "normal") -> tuple[list[dict[str, Any]], list[float], list[float]]:
    rows = []
    harken_lat: list[float] = []
    naive_lat: list[float] = []
    for folder in sorted(p for p in DATA.iterdir() if (p / "truth.json").exists()):
        campaign = json.loads((folder / "campaign.json").read_text())
        truth = json.loads((folder / "truth.json").read_text())
        profiles = profiles_from_truth(truth, campaign)
        for name, agent in (("harken", OfflineAgent()), ("naive", NaiveAgent()), ("padded", PaddedNaiveAgent())):
            scores = []
            for profile in profiles.values():
                profile.style = style
                ctx = context_from_dict(campaign, contact_name=profile.name.split()[0])
                run = interview(agent, ctx, profile)
                (harken_lat if name == "harken" else naive_lat).extend(run["latencies"])
                scores.append(score(ctx, profile, run))
            facts = sum(s["facts"] for s in scores)
            rows.append(
                {
                    "set": folder.name,
                    "style": style,
                    "agent": name,
                    "interviews": len(scores),
                    "facts_elicited": sum(s["found"] for s in scores) / facts,
                    "required_coverage": statistics.mean(s["required_cov"] for s in scores),
                    "required_topics_met": statistics.mean(s["required_met"] for s in scores),
                    "repeated_questions": sum(s["repeats"] for s in scores),
                    "minutes": statistics.mean(s["minutes"] for s in scores),
                    "participant_turns": statistics.mean(s["turns"] for s in scores),
                    "all_closed": all(s["done"] for s in scores),
                }
            )
    return rows, harken_lat, naive_lat


def latency(min_turns: int = 1000) -> dict[str, dict[str, float]]:
    """Offline agent latency per turn over at least `min_turns` turns (answers from the simulator)."""
    harken: list[float] = []
    naive: list[float] = []
    while len(harken) < min_turns:
        _, h, n = elicitation()
        harken += h
        naive += n
    return {"harken": percentiles(harken), "naive": percentiles(naive)}


def replay_latency() -> dict[str, float]:
    """Agent latency on real answers: the participant turns of the labelled transcripts, in order
    (longer and messier than the simulator's)."""
    samples: list[float] = []
    for folder in sorted(p for p in DATA.iterdir() if (p / "campaign.json").exists()):
        campaign = json.loads((folder / "campaign.json").read_text())
        for path in sorted((folder / "conversations").glob("*.json")):
            answers = [t["text"] for t in json.loads(path.read_text())["turns"] if t["speaker"] == "participant"]
            agent = OfflineAgent()
            ctx = context_from_dict(campaign, contact_name="Sam")
            turn = agent.opening(ctx)
            transcript = [{"speaker": "agent", "text": turn.text}]
            for answer in answers:
                transcript.append({"speaker": "participant", "text": answer})
                started = time.perf_counter()
                turn = agent.respond(ctx, turn.state, transcript, answer)
                samples.append(time.perf_counter() - started)
                transcript.append({"speaker": "agent", "text": turn.text})
                if turn.done:
                    break
    return percentiles(samples)


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def pick(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    return {"n": len(ordered), "p50_ms": pick(0.50), "p95_ms": pick(0.95), "max_ms": ordered[-1] * 1000}


# -- the respondent service in-process (no HTTP) -------------------------------------------------


async def service_cost(contacts: int = 20) -> dict[str, dict[str, float]]:
    """Per-message cost of `respondent_service.post_message` on SQLite, sequentially: the one-
    transaction path used with the offline agent, against the snapshot/compare-and-set path that a
    language model needs (forced here without a model), in the same run."""
    from harken.conversations import respondent_service as service
    from harken.conversations.agent import InterviewAgent
    from harken.core.db import Database
    from harken.core.migrate import upgrade

    class TwoPhase(InterviewAgent):
        @property
        def calls_network(self) -> bool:
            return True

    demo_profiles = [Profile.from_dict(p) for p in json.loads((ROOT / "src/harken/demo/profiles.json").read_text())]
    out = {}
    for name, agent in (
        ("one transaction (offline agent)", InterviewAgent()),
        ("snapshot + compare-and-set", TwoPhase()),
    ):
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite+aiosqlite:///{Path(tmp) / 'harken.db'}"
            upgrade(url)
            tokens = await seed_campaign(url, contacts)
            db = Database(url)
            samples: list[float] = []
            for i, token in enumerate(tokens):
                sim = SimulatedRespondent(demo_profiles[i % len(demo_profiles)])
                state = await service.get_state(db, token, agent)
                question = state.messages[-1].text
                for _ in range(MAX_TURNS):
                    started = time.perf_counter()
                    result = await service.post_message(db, token, sim.answer(question), agent)
                    samples.append(time.perf_counter() - started)
                    if result.status == "completed" or result.reply is None:
                        break
                    question = result.reply.text
            await db.dispose()
        out[name] = percentiles(samples)
    return out


# -- concurrent conversations over HTTP ----------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def seed_campaign(url: str, contacts: int) -> list[str]:
    import harken.models  # noqa: F401
    from harken.campaigns.models import Campaign, Contact, QuestionSet
    from harken.conversations.models import Conversation
    from harken.core.db import Database, utcnow
    from harken.workspaces.service import create_workspace

    demo = json.loads((ROOT / "src" / "harken" / "demo" / "campaign.json").read_text())
    db = Database(url)
    tokens = []
    async with db.session() as session:
        workspace = await create_workspace(session, "bench")
        campaign = Campaign(
            workspace_id=workspace.id,
            name=demo["name"],
            goal=demo["goal"],
            status="active",
            started_at=utcnow(),
            interview_duration_minutes=20,
            options={},
        )
        session.add(campaign)
        await session.flush()
        for i, topic in enumerate(demo["topics"]):
            session.add(
                QuestionSet(
                    workspace_id=workspace.id,
                    interview_id=campaign.id,
                    name=topic["name"],
                    sort_order=i,
                    topic_metadata={k: topic.get(k) for k in ("priority", "success_threshold", "sub_topics", "goal")},
                    questions=[
                        {"question_text": q["text"], "is_required": q.get("required", True), "sort_order": j}
                        for j, q in enumerate(topic["questions"])
                    ],
                )
            )
        for i in range(contacts):
            token = secrets.token_urlsafe(24)
            contact = Contact(
                workspace_id=workspace.id,
                interview_id=campaign.id,
                name=f"Bench Person{i}",
                email=f"p{i}@bench.test",
                email_normalized=f"p{i}@bench.test",
                status="scheduled",
                booking_token=token,
            )
            session.add(contact)
            await session.flush()
            session.add(
                Conversation(workspace_id=workspace.id, interview_id=campaign.id, contact_id=contact.id, transcript=[])
            )
            tokens.append(token)
    await db.dispose()
    return tokens


async def converse(client: Any, token: str, profile: Profile, latencies: list[float], errors: list[str]) -> bool:
    sim = SimulatedRespondent(profile, seed=hash(token) % 1000)
    state = await client.get(f"/v1/respond/{token}")
    if state.status_code != 200:
        errors.append(f"GET {state.status_code}")
        return False
    question = state.json()["messages"][-1]["text"]
    for _ in range(MAX_TURNS):
        started = time.perf_counter()
        response = await client.post(f"/v1/respond/{token}/messages", json={"text": sim.answer(question)})
        latencies.append(time.perf_counter() - started)
        if response.status_code != 200:
            errors.append(f"POST {response.status_code}: {response.text[:200]}")
            return False
        body = response.json()
        if body["status"] == "completed":
            return True
        question = body["reply"]["text"]
    return False


async def load_test(conversations: int, database_url: str | None) -> dict[str, Any]:
    import httpx

    from harken.core.migrate import upgrade

    demo_profiles = [Profile.from_dict(p) for p in json.loads((ROOT / "src/harken/demo/profiles.json").read_text())]
    with tempfile.TemporaryDirectory() as tmp:
        url = database_url or f"sqlite+aiosqlite:///{Path(tmp) / 'harken.db'}"
        upgrade(url)
        tokens = await seed_campaign(url, conversations + 1)
        port = free_port()
        env = {**os.environ, "HARKEN_DATABASE_URL": url, "HARKEN_DATA_DIR": tmp, "HARKEN_LOG_LEVEL": "WARNING"}
        env.pop("HARKEN_LLM_BASE_URL", None)
        log = open(Path(tmp) / "server.log", "wb")  # noqa: SIM115
        proc = subprocess.Popen(
            [sys.executable, "-m", "harken", "serve", "--port", str(port), "--no-worker"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
                for _ in range(300):
                    try:
                        if (await client.get("/healthz")).status_code == 200:
                            break
                    except httpx.HTTPError:
                        pass
                    await asyncio.sleep(0.1)
                # Baseline: one conversation alone.
                alone: list[float] = []
                errors: list[str] = []
                await converse(client, tokens[0], demo_profiles[0], alone, errors)
                # Then all at once.
                loaded: list[float] = []
                started = time.perf_counter()
                results = await asyncio.gather(
                    *(
                        converse(client, token, demo_profiles[i % len(demo_profiles)], loaded, errors)
                        for i, token in enumerate(tokens[1:])
                    )
                )
                wall = time.perf_counter() - started
        finally:
            proc.terminate()
            proc.wait(timeout=30)
            log.close()
        completed, consistent = await check_database(url)
    return {
        "database": "postgresql" if url.startswith("postgresql") else "sqlite",
        "conversations": conversations,
        "completed_ok": sum(results),
        "errors": len(errors),
        "error_samples": errors[:3],
        "wall_seconds": wall,
        "messages": len(loaded),
        "messages_per_second": len(loaded) / wall,
        "alone": percentiles(alone),
        "concurrent": percentiles(loaded),
        "db_completed": completed,
        "transcripts_consistent": consistent,
    }


async def check_database(url: str) -> tuple[int, bool]:
    from sqlalchemy import select

    from harken.conversations.models import Conversation
    from harken.core.db import Database

    db = Database(url)
    async with db.session() as session:
        rows = list((await session.execute(select(Conversation))).scalars())
    await db.dispose()
    consistent = True
    for row in rows:
        speakers = [t["speaker"] for t in row.transcript]
        if speakers and (
            speakers[0] != "agent" or any(a == b == "participant" for a, b in itertools.pairwise(speakers))
        ):
            consistent = False
    return sum(r.status == "completed" for r in rows), consistent


# -- report --------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--skip-load", action="store_true", help="skip the HTTP load test")
    parser.add_argument("--conversations", type=int, default=50)
    parser.add_argument("--database-url", help="run the load test on this database (default: temp SQLite)")
    args = parser.parse_args()

    report: dict[str, Any] = {}
    print("== 1. elicitation (simulated respondents from truth.json; same respondents for both agents)")
    rows = []
    for style in ("normal", "terse"):
        rows += elicitation(style)[0]
    report["elicitation"] = rows
    header = f"{'set':18} {'style':7} {'agent':7} {'facts':>6} {'req.cov':>8} {'req.met':>8} {'repeats':>8}"
    header += f" {'minutes':>8} {'turns':>6}"
    print(header)
    for r in rows:
        print(
            f"{r['set']:18} {r['style']:7} {r['agent']:7} {r['facts_elicited']:6.1%} {r['required_coverage']:8.1%} "
            f"{r['required_topics_met']:8.1%} {r['repeated_questions']:8d} {r['minutes']:8.1f} "
            f"{r['participant_turns']:6.1f}"
        )

    print("\n== 2. offline turn latency (agent.respond, in-process)")
    report["latency"] = latency(1000)
    report["latency"]["harken (real answers)"] = replay_latency()
    for name, p in report["latency"].items():
        print(f"{name:22} n={p['n']:5d}  p50={p['p50_ms']:.2f} ms  p95={p['p95_ms']:.2f} ms  max={p['max_ms']:.2f} ms")

    print("\n== 3a. respondent service in-process, SQLite, one message at a time")
    report["service"] = asyncio.run(service_cost())
    for name, p in report["service"].items():
        print(f"{name:32} n={p['n']:5d}  p50={p['p50_ms']:.1f} ms  p95={p['p95_ms']:.1f} ms")

    if not args.skip_load:
        print(f"\n== 3b. {args.conversations} concurrent conversations over HTTP (real `harken serve` subprocess)")
        load = asyncio.run(load_test(args.conversations, args.database_url))
        report["load"] = load
        print(
            f"database={load['database']} completed={load['completed_ok']}/{load['conversations']} "
            f"errors={load['errors']} consistent={load['transcripts_consistent']} db_completed={load['db_completed']}"
        )
        print(f"wall={load['wall_seconds']:.1f}s messages={load['messages']} ({load['messages_per_second']:.1f}/s)")
        a, c = load["alone"], load["concurrent"]
        print(f"message latency alone:      p50={a['p50_ms']:.1f} ms p95={a['p95_ms']:.1f} ms")
        print(f"message latency concurrent: p50={c['p50_ms']:.1f} ms p95={c['p95_ms']:.1f} ms")
        if load["error_samples"]:
            print("errors:", load["error_samples"])

    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "agent.json").write_text(json.dumps(report, indent=2))
    print(f"\nwritten {out / 'agent.json'}")


if __name__ == "__main__":
    main()
