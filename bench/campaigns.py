"""Campaigns benchmark: bulk contacts, CSV import and conversation listing, beside raw-SQL baselines.

    .venv/bin/python -m bench.campaigns                      # SQLite
    .venv/bin/python -m bench.campaigns --pg postgresql+psycopg://postgres@127.0.0.1:5432/postgres

Each figure goes through the real application (FastAPI app, auth, validation, service, database)
in-process over ASGI; the baseline is the same rows written or read with a raw `executemany` /
hand-written SQL on the same database in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import statistics
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, insert, text

from harken.core.db import sync_url

N_BULK = 5000
N_CSV = 10_000
N_CONVERSATIONS = 10_000
LIST_RUNS = 60
WORDS = ("invoice", "ticket", "spreadsheet", "vendor", "checklist", "approval", "portal", "escalation")


def _people(n: int, prefix: str) -> list[dict[str, Any]]:
    return [
        {
            "name": f"Person {prefix}{i}",
            "email": f"{prefix}{i}@example.com",
            "job_title": ("Technician", "Manager", "Analyst")[i % 3],
            "department": f"Dept {i % 12}",
            "seniority_level": 1 + i % 5,
        }
        for i in range(n)
    ]


def _csv_bytes(rows: list[dict[str, Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["Full name", "E-mail", "Job title", "Department", "Seniority"])
    for row in rows:
        writer.writerow([row["name"], row["email"], row["job_title"], row["department"], row["seniority_level"]])
    return out.getvalue().encode()


@asynccontextmanager
async def _database(kind: str, pg_url: str | None) -> AsyncIterator[str]:
    from harken.core.migrate import upgrade

    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
            upgrade(url)
            yield url
        return
    assert pg_url is not None
    from bench._databases import throwaway_postgres

    url, drop = throwaway_postgres(pg_url)
    try:
        yield url
    finally:
        drop()


def _baseline_insert(url: str, campaign_id: str, workspace_id: str, rows: list[dict[str, Any]]) -> float:
    """The floor: one executemany INSERT of the same contact rows in one transaction."""
    from harken.campaigns.models import Contact

    engine = create_engine(sync_url(url))
    now = datetime.now(UTC)
    values = [
        {
            "id": str(uuid.uuid4()),
            "workspace_id": workspace_id,
            "interview_id": campaign_id,
            "email_normalized": row["email"].lower(),
            "is_required": False,
            "status": "pending",
            "reminder_count": 0,
            "created_at": now,
            "updated_at": now,
            **row,
        }
        for row in rows
    ]
    started = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(insert(Contact), values)
    elapsed = time.perf_counter() - started
    engine.dispose()
    return elapsed


def _baseline_csv(url: str, campaign_id: str, workspace_id: str, data: bytes) -> float:
    """The floor for CSV: csv.DictReader over the bytes plus the executemany INSERT."""
    started = time.perf_counter()
    reader = csv.DictReader(io.StringIO(data.decode("utf-8")))
    rows = [
        {
            "name": r["Full name"],
            "email": r["E-mail"],
            "job_title": r["Job title"],
            "department": r["Department"],
            "seniority_level": int(r["Seniority"]),
        }
        for r in reader
    ]
    parse = time.perf_counter() - started
    return parse + _baseline_insert(url, campaign_id, workspace_id, rows)


def _seed_conversations(url: str, campaign_id: str, workspace_id: str, n: int) -> None:
    from harken.campaigns.models import Contact
    from harken.conversations.models import Conversation

    engine = create_engine(sync_url(url))
    now = datetime.now(UTC)
    contacts, conversations = [], []
    filler = "So we handle requests as they come in and then we follow up when we can. " * 25
    for i in range(n):
        cid = str(uuid.uuid4())
        contacts.append(
            {
                "id": cid,
                "workspace_id": workspace_id,
                "interview_id": campaign_id,
                "name": f"Respondent {i}",
                "email": f"r{i}@example.com",
                "email_normalized": f"r{i}@example.com",
                "job_title": ("Technician", "Manager", "Analyst")[i % 3],
                "department": f"Dept {i % 12}",
                "seniority_level": 1 + i % 5,
                "is_required": False,
                "status": "completed",
                "reminder_count": 0,
                "created_at": now,
                "updated_at": now,
            }
        )
        word = WORDS[i % len(WORDS)] if i % 100 == 0 else "request"  # 1 % of transcripts name a rare word
        body = f"agent: How does work reach you?\nparticipant: {filler} The {word} is the painful part."
        conversations.append(
            {
                "id": str(uuid.uuid4()),
                "workspace_id": workspace_id,
                "interview_id": campaign_id,
                "contact_id": cid,
                "status": "completed",
                "source": "import",
                "session_id": str(uuid.uuid4()),
                "transcript": [{"speaker": "participant", "text": body, "at": None}],
                "transcript_text": body,
                "summary": f"Talks about {word}s",
                "started_at": now,
                "ended_at": now,
                "duration_minutes": 20 + i % 15,
                "extracted_pain_points": [],
                "tools_mentioned": [],
                "processes_touched": [],
                "topic_coverage": {},
                "agent_state": {},
                "import_meta": {},
                "created_at": now,
                "updated_at": now,
            }
        )
    with engine.begin() as conn:
        for start in range(0, n, 1000):
            conn.execute(insert(Contact), contacts[start : start + 1000])
            conn.execute(insert(Conversation), conversations[start : start + 1000])
    engine.dispose()


def _baseline_list(url: str, campaign_id: str, search: str | None, runs: int) -> list[float]:
    """Hand-written SQL for the same page: COUNT plus the first 100 rows (with LIKE when searching)."""
    engine = create_engine(sync_url(url))
    where = "v.interview_id = :iid"
    params: dict[str, Any] = {"iid": campaign_id}
    if search:
        where += " AND (lower(c.name) LIKE :p OR lower(v.summary) LIKE :p OR lower(v.transcript_text) LIKE :p)"
        params["p"] = f"%{search.lower()}%"
    count_sql = text(f"SELECT count(*) FROM conversations v JOIN contacts c ON c.id = v.contact_id WHERE {where}")  # noqa: S608
    page_sql = text(
        "SELECT v.id, v.status, v.summary, c.name, c.department FROM conversations v "  # noqa: S608
        f"JOIN contacts c ON c.id = v.contact_id WHERE {where} ORDER BY v.created_at, v.id LIMIT 100"
    )
    times = []
    with engine.connect() as conn:
        for _ in range(runs):
            started = time.perf_counter()
            conn.execute(count_sql, params).scalar()
            conn.execute(page_sql, params).all()
            times.append(time.perf_counter() - started)
    engine.dispose()
    return times


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def run(kind: str, pg_url: str | None) -> list[tuple[str, str, str]]:
    from tests.helpers import create_tenant

    from harken.app import create_app
    from harken.core.settings import Settings

    out: list[tuple[str, str, str]] = []
    async with _database(kind, pg_url) as url:
        with tempfile.TemporaryDirectory() as data_dir:
            settings = Settings(database_url=url, data_dir=Path(data_dir), rate_limit="1000000/minute", _env_file=None)
            app = create_app(settings, run_worker=False)
            async with app.router.lifespan_context(app):
                tenant = await create_tenant(app.state.db, name="bench")
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(transport=transport, base_url="http://bench", timeout=600) as http:
                    http.headers.update(tenant.headers)

                    async def campaign() -> str:
                        response = await http.post(
                            "/v1/interviews", json={"workspace_id": tenant.workspace_id, "name": "b"}
                        )
                        return str(response.json()["id"])

                    # 1. bulk 5,000 contacts
                    api_times, base_times = [], []
                    for run_no in range(3):
                        people = _people(N_BULK, f"b{run_no}-")
                        iid = await campaign()
                        started = time.perf_counter()
                        response = await http.post(f"/v1/interviews/{iid}/contacts/bulk", json={"contacts": people})
                        api_times.append(time.perf_counter() - started)
                        assert response.status_code == 200 and response.json()["count"] == N_BULK, response.text[:200]
                        base_times.append(_baseline_insert(url, await campaign(), tenant.workspace_id, people))
                    out.append(
                        (
                            f"POST contacts/bulk, {N_BULK:,} contacts (median of 3)",
                            f"{statistics.median(api_times):.2f} s",
                            f"{statistics.median(base_times):.2f} s",
                        )
                    )

                    # 2. CSV import, 10,000 rows
                    api_times, base_times = [], []
                    for run_no in range(3):
                        data = _csv_bytes(_people(N_CSV, f"c{run_no}-"))
                        iid = await campaign()
                        started = time.perf_counter()
                        response = await http.post(
                            f"/v1/interviews/{iid}/contacts/import", files={"file": ("c.csv", data, "text/csv")}
                        )
                        api_times.append(time.perf_counter() - started)
                        assert response.json()["imported"] == N_CSV, response.text[:200]
                        base_times.append(_baseline_csv(url, await campaign(), tenant.workspace_id, data))
                    out.append(
                        (
                            f"POST contacts/import, {N_CSV:,}-row CSV (median of 3)",
                            f"{statistics.median(api_times):.2f} s",
                            f"{statistics.median(base_times):.2f} s",
                        )
                    )

                    # 3. conversation list with 10,000 conversations
                    iid = await campaign()
                    _seed_conversations(url, iid, tenant.workspace_id, N_CONVERSATIONS)
                    cases: list[tuple[str, dict[str, Any], str | None]] = [
                        ("GET conversations (limit 100)", {}, None),
                        ("GET conversations?search=<rare word> (1 % match)", {"search": "spreadsheet"}, "spreadsheet"),
                        ("GET conversations?department=Dept 3", {"department": "Dept 3"}, None),
                    ]
                    for label, params, search in cases:
                        times = []
                        for _ in range(LIST_RUNS):
                            started = time.perf_counter()
                            response = await http.get(f"/v1/interviews/{iid}/conversations", params=params)
                            times.append(time.perf_counter() - started)
                            assert response.status_code == 200
                        base = _baseline_list(url, iid, search, LIST_RUNS) if "department" not in params else None
                        out.append(
                            (
                                f"{label}, {N_CONVERSATIONS:,} conversations: p50 / p99",
                                f"{_pct(times, 0.5) * 1000:.0f} / {_pct(times, 0.99) * 1000:.0f} ms",
                                f"{_pct(base, 0.5) * 1000:.0f} / {_pct(base, 0.99) * 1000:.0f} ms" if base else "-",
                            )
                        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pg", help="PostgreSQL admin URL (a throwaway database is created and dropped)")
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    args = parser.parse_args()
    kinds = [k for k in ("sqlite", "postgresql") if (k == "sqlite" or args.pg) and args.only in (None, k)]
    for kind in kinds:
        rows = asyncio.run(run(kind, args.pg))
        print(f"\n## {kind}\n")
        print("| measure | Harken API | baseline (raw SQL, same rows) |")
        print("|---|---|---|")
        for label, ours, base in rows:
            print(f"| {label} | {ours} | {base} |")


if __name__ == "__main__":
    main()
