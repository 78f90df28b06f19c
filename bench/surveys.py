"""Survey programming speed: a generated 150-question questionnaire, programmed offline and end to end.

    .venv/bin/python bench/surveys.py [--questions 150] [--runs 5] [--no-server]

Prints, in the same run:
  baseline   raw text extraction of the .docx (python-docx paragraphs + tables, nothing else)
  programmer extraction with structure + the offline programmer + IR build (in-process)
  end-to-end a real `harken serve` (SQLite, in-process worker): upload, create, program-from-file,
             poll until `programming_status == completed` (50 ms polling), then export questions
"""

from __future__ import annotations

import argparse
import io
import os
import random
import secrets
import statistics
import subprocess
import sys
import tempfile
import time

import httpx

from harken.surveys.parsing.build import build_ir
from harken.surveys.parsing.extract import DOCX, extract
from harken.surveys.parsing.programmer import program

SCALE = ["Strongly disagree", "Disagree", "Neither agree nor disagree", "Agree", "Strongly agree"]
TOPICS = ["pricing", "delivery", "support", "the mobile app", "the website", "returns", "loyalty rewards", "packaging"]


def generate_docx(n: int, seed: int = 7) -> bytes:
    """A questionnaire in the usual agency layout: labels, [INSTRUCTIONS], coded answers, grids, routing."""
    import docx

    rng = random.Random(seed)
    document = docx.Document()
    document.add_paragraph("Generated Benchmark Questionnaire", style="Title")
    document.add_paragraph("General programming notes", style="Heading 1")
    document.add_paragraph("All questions are single code unless stated otherwise.", style="List Bullet")
    document.add_paragraph("INTRO.\tThank you for taking part in this survey.")
    section = 0
    for i in range(1, n + 1):
        if i % 25 == 1:
            section += 1
            document.add_paragraph(f"Section {section} - Topic block", style="Heading 1")
        topic = rng.choice(TOPICS)
        kind = i % 6
        if i > 2 and i % 10 == 0:
            document.add_paragraph(f"[ASK IF Q{i - 1} = 1 OR 2]")
        if kind == 0:
            document.add_paragraph(f"Q{i}.\tHow satisfied are you with {topic}?")
            document.add_paragraph("[SINGLE]")
            for code, label in enumerate(["Very satisfied", "Satisfied", "Dissatisfied", "Very dissatisfied"], 1):
                document.add_paragraph(f"{code}\t{label}")
        elif kind == 1:
            document.add_paragraph(f"Q{i}.\tWhich of these have you used for {topic}?")
            document.add_paragraph("[MULTI - SELECT ALL THAT APPLY] [RANDOMIZE]")
            for code, label in enumerate(["Email", "Phone", "Chat", "In store", "Social media"], 1):
                document.add_paragraph(f"{code}\t{label}")
            document.add_paragraph("6\tNone of these\t\t[EXCLUSIVE]")
        elif kind == 2:
            document.add_paragraph(f"Q{i}.\tHow much do you agree with each statement about {topic}?")
            document.add_paragraph("[GRID - SINGLE CODE PER ROW]")
            table = document.add_table(rows=4, cols=len(SCALE) + 1)
            for c, label in enumerate(SCALE, 1):
                table.cell(0, c).text = label
            for r, statement in enumerate(["It is easy", "It is fair", "It is fast"], 1):
                table.cell(r, 0).text = f"{chr(96 + r)}) {statement}"
                for c in range(1, len(SCALE) + 1):
                    table.cell(r, c).text = "\u25cb"
        elif kind == 3:
            document.add_paragraph(f"Q{i}.\tHow many times did you contact us about {topic} last year?")
            document.add_paragraph("[NUMERIC - RANGE 0-99]")
        elif kind == 4:
            document.add_paragraph(f"Q{i}.\tOn a scale of 0 to 10, how likely are you to recommend our {topic}?")
            document.add_paragraph("[SCALE 0-10]")
        else:
            document.add_paragraph(f"Q{i}.\tWhat could we do better about {topic}?")
            document.add_paragraph("[OPEN]")
    document.add_paragraph("CLOSE.\tThank you for your time.")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def baseline_extract(data: bytes) -> str:
    import docx

    document = docx.Document(io.BytesIO(data))
    parts = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            parts.extend(cell.text for cell in row.cells)
    return "\n".join(parts)


def timed(fn, runs: int) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    times, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def end_to_end(data: bytes, runs: int) -> list[float]:
    key = "ont_live_" + secrets.token_urlsafe(32)
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "HARKEN_DATA_DIR": tmp,
            "HARKEN_BOOTSTRAP_API_KEY": key,
            "HARKEN_PORT": str(port),
            "HARKEN_LOG_LEVEL": "WARNING",
            "HARKEN_WORKER_POLL_INTERVAL": "0.05",
        }
        proc = subprocess.Popen(
            [sys.executable, "-m", "harken", "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError("server did not start")
                time.sleep(0.1)
            headers = {"X-API-Key": key}
            out = []
            with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
                for run in range(runs):
                    file = client.post("/v1/files", files={"file": ("bench.docx", data, DOCX)}).json()
                    survey = client.post("/v1/surveys", json={"name": f"bench {run}"}).json()
                    start = time.perf_counter()
                    client.post(f"/v1/surveys/{survey['id']}/program-from-file/{file['id']}").raise_for_status()
                    while True:
                        state = client.get(f"/v1/surveys/{survey['id']}").json()
                        if state["programming_status"] in ("completed", "failed"):
                            break
                        time.sleep(0.05)
                    out.append(time.perf_counter() - start)
                    assert state["programming_status"] == "completed", state
                    questions = client.get(f"/v1/surveys/{survey['id']}/export", params={"format": "questions"}).json()
                    assert len(questions["questions"]) >= 150, len(questions["questions"])
            return out
        finally:
            proc.terminate()
            proc.wait(timeout=40)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--questions", type=int, default=150)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-server", action="store_true")
    args = parser.parse_args()
    data = generate_docx(args.questions)
    base_s, _ = timed(lambda: baseline_extract(data), args.runs)
    extract_s, document = timed(lambda: extract(data, DOCX), args.runs)
    program_s, result = timed(lambda: program(document), args.runs)  # type: ignore[arg-type]
    build_s, ir = timed(lambda: build_ir(result), args.runs)  # type: ignore[arg-type]
    questions = sum(1 for q in result.questions if q.kind != "text")  # type: ignore[union-attr]
    print(
        f"questionnaire: {args.questions} questions generated, {len(data) / 1024:.0f} KiB docx; "
        f"programmer found {questions} questions, {len(ir['pages'])} pages"
    )  # type: ignore[index]
    print(f"baseline   raw text extraction (python-docx)        median {base_s * 1000:8.1f} ms")
    print(f"programmer structured extraction                     median {extract_s * 1000:8.1f} ms")
    print(f"programmer offline programming (rules)               median {program_s * 1000:8.1f} ms")
    print(f"programmer IR build                                  median {build_s * 1000:8.1f} ms")
    total = extract_s + program_s + build_s
    print(
        f"programmer total in-process                          median {total * 1000:8.1f} ms "
        f"({total / base_s:.1f}x the baseline)"
    )
    if not args.no_server:
        times = end_to_end(data, args.runs)
        print(
            f"end-to-end harken serve, program-from-file -> completed  median {statistics.median(times):6.2f} s "
            f"(min {min(times):.2f}, max {max(times):.2f}, {len(times)} runs)  target < 5 s"
        )


if __name__ == "__main__":
    main()
