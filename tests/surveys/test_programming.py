"""Programming from a file as a background job: lock, events, cancel, failures, accuracy."""

from __future__ import annotations

import asyncio
import importlib.util
import json

import pytest
from sqlalchemy import select

from harken.core.jobs import Job
from tests.surveys.conftest import (
    QUESTIONNAIRES,
    SHARED,
    events,
    make_docx,
    make_image_pdf,
    make_pdf,
    program_file,
    seed_payloads,
    upload,
    wait_programmed,
)


def _scorer():
    spec = importlib.util.spec_from_file_location("score_questionnaire", SHARED / "tools" / "score_questionnaire.py")
    module = importlib.util.module_from_spec(spec)
    import sys

    sys.path.insert(0, str(SHARED / "tools"))
    spec.loader.exec_module(module)
    return module


async def _start(client, tenant, name: str, data: bytes):
    file = (await upload(client, tenant, name, data)).json()
    survey = (await client.post("/v1/surveys", headers=tenant.headers, json={"name": f"S {name}"})).json()
    response = await client.post(f"/v1/surveys/{survey['id']}/program-from-file/{file['id']}", headers=tenant.headers)
    return survey, file, response


@pytest.mark.parametrize("name", sorted(p.name for p in QUESTIONNAIRES.iterdir() if not p.name.endswith(".json")))
async def test_labelled_questionnaires_meet_accuracy_targets(client, tenant, worker, name):
    scorer = _scorer()
    path = QUESTIONNAIRES / name
    survey, _ = await program_file(client, tenant, name, path.read_bytes())
    assert survey["programming_status"] == "completed" and survey["locked"] is False
    got = (
        await client.get(f"/v1/surveys/{survey['id']}/export", params={"format": "questions"}, headers=tenant.headers)
    ).json()
    expected = json.loads((QUESTIONNAIRES / (path.stem + ".expected.json")).read_text())
    result = scorer.score_file(expected, got)
    assert result["recall"] >= 0.95 and result["precision"] >= 0.9, result
    assert result["type_accuracy"] >= 0.9, result
    for key, floor in (("options_exact", 0.9), ("grid_exact", 0.8), ("logic_recall", 0.7)):
        assert result[key] is None or result[key] >= floor, (key, result)


async def test_program_locks_then_emits_lifecycle_events(app, client, tenant, worker):
    data = (QUESTIONNAIRES / "employee-pulse.md").read_bytes()
    survey, started = await program_file(client, tenant, "employee-pulse.md", data)
    assert set(started) == {"id", "user_id", "created_at", "content", "job_id"}
    assert started["content"][0]["type"] == "text"
    assert survey["programming_status"] == "completed"
    assert survey["programming_completed_at"] and survey["programmed_from_file_id"]
    assert survey["first_page_id"] == survey["pages"][0]["id"]
    seeds = seed_payloads()
    started_events = await events(app, tenant.workspace_id, "programming.started")
    finished = await events(app, tenant.workspace_id, "programming.finished")
    assert len(started_events) == 1 and len(finished) == 1
    assert set(started_events[0].data) == set(seeds["programming.started"])
    assert set(finished[0].data) == set(seeds["programming.finished"])
    assert finished[0].data["status"] == "completed" and finished[0].data["survey_id"] == survey["id"]
    updates = [e.data for e in await events(app, tenant.workspace_id, "survey.updated")]
    assert all(set(u) == set(seeds["survey.updated"]) for u in updates)
    assert [u["locked"] for u in updates] == [True, False]
    assert updates[-1]["programming_status"] == "completed" and updates[-1]["programming_completed_at"]
    # The IR: a page per question, showIf written as an expression, attention flags where unsure.
    blocks = [b for p in survey["pages"] for b in p["blocks"]]
    q7 = next(b for b in blocks if b["config"].get("label") == "Q7")
    assert q7["config"]["type"] == "Matrix" and q7["config"]["showIf"] == 'answers.Q3 == "1"'
    history = (await client.get(f"/v1/surveys/{survey['id']}/history", headers=tenant.headers)).json()
    assert history["data"][0]["type"] == "initial_programming" and history["data"][0]["status"] == "complete"


async def test_locked_survey_rejects_edits_and_second_job_then_cancel(app, client, tenant):
    # No worker yet: the job stays queued and the survey stays locked.
    data = (QUESTIONNAIRES / "patient-experience.txt").read_bytes()
    survey, file, first = await _start(client, tenant, "p.txt", data)
    assert first.status_code == 202
    second = await client.post(f"/v1/surveys/{survey['id']}/program-from-file/{file['id']}", headers=tenant.headers)
    assert second.status_code == 409 and second.json()["code"] == "survey_locked"
    put = await client.put(f"/v1/surveys/{survey['id']}", headers=tenant.headers, json={"name": "renamed"})
    assert put.status_code == 409 and put.json()["code"] == "survey_locked"
    page = await client.post(f"/v1/surveys/{survey['id']}/pages", headers=tenant.headers, json={"name": "P"})
    assert page.status_code == 409
    async with app.state.db.read_sessionmaker() as session:
        jobs = list((await session.execute(select(Job).where(Job.kind == "surveys.program_from_file"))).scalars())
    assert len(jobs) == 1
    cancelled = await client.post(f"/v1/surveys/{survey['id']}/programming/cancel", headers=tenant.headers)
    assert cancelled.status_code == 200
    assert cancelled.json()["programming_status"] == "cancelled" and cancelled.json()["locked"] is False
    again = await client.post(f"/v1/surveys/{survey['id']}/programming/cancel", headers=tenant.headers)
    assert again.status_code == 409
    finished = await events(app, tenant.workspace_id, "programming.finished")
    assert [e.data["status"] for e in finished] == ["cancelled"]
    history = (await client.get(f"/v1/surveys/{survey['id']}/history", headers=tenant.headers)).json()
    assert history["data"][0]["status"] == "error" and history["data"][0]["metadata"]["reason"] == "cancelled"


async def test_cancel_mid_job_stops_cooperatively(app, client, tenant):
    """A worker that already claimed the job notices the cancel at its next stage and writes nothing."""
    from harken.core.jobs import Worker

    data = (QUESTIONNAIRES / "csat-retail.docx").read_bytes()
    survey, _file, started = await _start(client, tenant, "c.docx", data)
    worker = Worker(app.state.db, app.state.settings, concurrency=1)
    claimed = await worker.claim(1)
    assert claimed and claimed[0]["id"] == started.json()["job_id"]
    cancelled = await client.post(f"/v1/surveys/{survey['id']}/programming/cancel", headers=tenant.headers)
    assert cancelled.status_code == 200
    await worker._execute(claimed[0])
    after = (await client.get(f"/v1/surveys/{survey['id']}", headers=tenant.headers)).json()
    assert after["programming_status"] == "cancelled" and after["pages"] == []
    finished = await events(app, tenant.workspace_id, "programming.finished")
    assert [e.data["status"] for e in finished] == ["cancelled"]


async def test_started_event_once_even_when_job_retries(app, client, tenant, worker):
    data = (QUESTIONNAIRES / "event-feedback.xlsx").read_bytes()
    survey, _ = await program_file(client, tenant, "e.xlsx", data)
    assert survey["programming_status"] == "completed"
    assert len(await events(app, tenant.workspace_id, "programming.started")) == 1


@pytest.mark.parametrize(
    ("name", "data", "needle"),
    [
        ("scan.pdf", make_image_pdf(), "no text layer"),
        ("locked.pdf", make_pdf(["Q1. Do you like tea?", "1 Yes", "2 No"], encrypt="s3cret"), "encrypted"),
        ("empty.docx", make_docx([]), "No questions"),
        ("prose.txt", b"Hi team,\n\nThanks for the call today. Let's talk next week.\n\nBest, Sam\n", "No questions"),
    ],
)
async def test_bad_documents_fail_cleanly(app, client, tenant, worker, name, data, needle):
    survey, _file, started = await _start(client, tenant, name, data)
    assert started.status_code == 202
    done = await wait_programmed(client, tenant, survey["id"])
    assert done["programming_status"] == "failed" and done["locked"] is False
    status = (await client.get(f"/v1/surveys/{survey['id']}/programming", headers=tenant.headers)).json()
    assert needle.lower() in status["error"].lower()
    finished = await events(app, tenant.workspace_id, "programming.finished")
    assert [e.data["status"] for e in finished] == ["failed"]
    history = (await client.get(f"/v1/surveys/{survey['id']}/history", headers=tenant.headers)).json()
    assert history["data"][0]["status"] == "error"


async def test_encrypted_pdf_without_user_password_is_read(client, tenant, worker):
    data = make_pdf(["Q1. Do you like tea?", "1 Yes", "2 No"], encrypt="")
    survey, _ = await program_file(client, tenant, "open.pdf", data)
    assert survey["programming_status"] == "completed"


async def test_survey_deleted_while_programming(app, client, tenant):
    data = (QUESTIONNAIRES / "b2b-brand-tracker.pdf").read_bytes()
    survey, _file, started = await _start(client, tenant, "b.pdf", data)
    assert (await client.delete(f"/v1/surveys/{survey['id']}", headers=tenant.headers)).status_code == 204
    from harken.core.jobs import Worker

    worker = Worker(app.state.db, app.state.settings, concurrency=1)
    claimed = await worker.claim(5)
    assert claimed == []  # the queued job was cancelled with the survey
    types = [e.type for e in await events(app, tenant.workspace_id)]
    assert types[-2:] == ["programming.finished", "survey.deleted"]
    async with app.state.db.read_sessionmaker() as session:
        job = await session.get(Job, started.json()["job_id"])
    assert job.status == "cancelled"


async def test_job_running_when_survey_deleted_exits_quietly(app, client, tenant):
    data = (QUESTIONNAIRES / "b2b-brand-tracker.pdf").read_bytes()
    survey, _file, started = await _start(client, tenant, "b.pdf", data)
    from harken.core.jobs import Worker

    worker = Worker(app.state.db, app.state.settings, concurrency=1)
    claimed = await worker.claim(1)
    assert (await client.delete(f"/v1/surveys/{survey['id']}", headers=tenant.headers)).status_code == 204
    await worker._execute(claimed[0])
    await worker.flush()
    async with app.state.db.read_sessionmaker() as session:
        job = await session.get(Job, started.json()["job_id"])
    assert job.status == "succeeded"
    assert [e.data["status"] for e in await events(app, tenant.workspace_id, "programming.finished")] == ["cancelled"]


async def test_two_concurrent_program_calls_make_one_job(app, client, tenant):
    data = (QUESTIONNAIRES / "patient-experience.txt").read_bytes()
    file = (await upload(client, tenant, "p.txt", data)).json()
    survey = (await client.post("/v1/surveys", headers=tenant.headers, json={"name": "Race"})).json()
    path = f"/v1/surveys/{survey['id']}/program-from-file/{file['id']}"
    results = await asyncio.gather(*(client.post(path, headers=tenant.headers) for _ in range(2)))
    assert sorted(r.status_code for r in results) == [202, 409]
    assert len(await events(app, tenant.workspace_id, "programming.started")) == 1


async def test_unknown_file_or_survey_is_404(client, tenant, other_tenant):
    survey = (await client.post("/v1/surveys", headers=tenant.headers, json={"name": "X"})).json()
    response = await client.post(f"/v1/surveys/{survey['id']}/program-from-file/nope", headers=tenant.headers)
    assert response.status_code == 404
    theirs = (await upload(client, other_tenant, "q.txt", b"Q1. Tea?\nYes\nNo\n")).json()
    response = await client.post(f"/v1/surveys/{survey['id']}/program-from-file/{theirs['id']}", headers=tenant.headers)
    assert response.status_code == 404
    assert (await client.get(f"/v1/surveys/{survey['id']}", headers=tenant.headers)).json()["locked"] is False


async def test_unseen_word_questionnaire_with_automatic_numbering(client, tenant, worker):
    """Word numbering (not typed numbers), a lettered answer list, routing in words, a terminate."""
    data = make_docx(
        [
            ("Title", "Commuter Habits Survey"),
            ("Normal", "Please read: instructions in capitals are for the programmer."),
            ("List Number", "How old are you?"),
            ("List Bullet", "Under 16 - TERMINATE"),
            ("List Bullet", "16 to 29"),
            ("List Bullet", "30 to 49"),
            ("List Bullet", "50 or older"),
            ("List Number", "How do you usually travel to work? Select all that apply."),
            ("List Bullet", "Car"),
            ("List Bullet", "Bus"),
            ("List Bullet", "Bicycle"),
            ("List Bullet", "None of these"),
            ("List Number", "Do you own a car?"),
            ("List Bullet", "Yes"),
            ("List Bullet", "No"),
            ("Normal", "IF NO AT Q3, SKIP TO Q5"),
            ("List Number", "How many kilometres do you drive per week? [NUMERIC 0-2000]"),
            ("List Number", "Anything else you want to tell us?"),
        ]
    )
    survey, _ = await program_file(client, tenant, "commute.docx", data)
    assert survey["programming_status"] == "completed"
    got = (
        await client.get(f"/v1/surveys/{survey['id']}/export", params={"format": "questions"}, headers=tenant.headers)
    ).json()
    by_label = {q["label"]: q for q in got["questions"]}
    assert got["title"] == "Commuter Habits Survey"
    assert by_label["Q1"]["options"] == ["Under 16", "16 to 29", "30 to 49", "50 or older"]
    assert by_label["Q1"]["terminate_if"] == ["Under 16"]
    assert by_label["Q2"]["type"] == "multi" and by_label["Q2"]["exclusive"] == ["None of these"]
    assert by_label["Q4"]["type"] == "numeric" and (by_label["Q4"]["min"], by_label["Q4"]["max"]) == (0, 2000)
    assert by_label["Q4"]["show_if"] == {"question": "Q3", "op": "in", "values": ["Yes"]}
    assert by_label["Q5"]["type"] == "open" and "show_if" not in by_label["Q5"]


APPS = b"Q1. Which of these apps do you use?\nMaps\nMail\nPhotos\n\nQ2. Anything else you want to add?\n"


async def test_llm_backend_resolves_ambiguity_and_is_validated(app, client, tenant, worker, httpserver):
    """An OpenAI-compatible server may settle a type the document left open; invalid answers are ignored."""
    app.state.settings.llm_base_url = httpserver.url_for("/v1")
    app.state.settings.llm_model = "fake-model"
    reply = {"questions": [{"label": "Q1", "type": "multi"}, {"label": "Q2", "type": "not-a-type"}]}
    httpserver.expect_request("/v1/chat/completions", method="POST").respond_with_json(
        {"choices": [{"message": {"role": "assistant", "content": "Sure: " + json.dumps(reply)}}]}
    )
    try:
        survey, _ = await program_file(client, tenant, "apps.txt", APPS)
    finally:
        app.state.settings.llm_base_url = None
    assert survey["programming_status"] == "completed"
    request = json.loads(httpserver.log[0][0].data)
    assert request["model"] == "fake-model" and request["messages"][0]["role"] == "system"
    blocks = {b["config"]["label"]: b["config"] for p in survey["pages"] for b in p["blocks"]}
    assert blocks["Q1"]["allowMultiple"] is True
    assert "language model" in blocks["Q1"]["attentionRequired"]["reason"]
    assert blocks["Q2"]["type"] == "TextInput"


async def test_llm_backend_errors_fall_back_to_offline_result(app, client, tenant, worker, httpserver):
    app.state.settings.llm_base_url = httpserver.url_for("/v1")
    httpserver.expect_request("/v1/chat/completions").respond_with_data("boom", status=500)
    try:
        survey, _ = await program_file(client, tenant, "apps.txt", APPS)
    finally:
        app.state.settings.llm_base_url = None
    assert survey["programming_status"] == "completed"
    blocks = {b["config"]["label"]: b["config"] for p in survey["pages"] for b in p["blocks"]}
    assert blocks["Q1"]["allowMultiple"] is False and len(httpserver.log) == 1


async def test_crash_then_retry_emits_started_once(app, client, tenant, worker, monkeypatch):
    """An unexpected error on the first attempt is retried; `programming.started` is not repeated."""
    from harken.surveys import programming

    calls = {"n": 0}
    real = programming.program

    def flaky(document):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("worker crashed mid-job")
        return real(document)

    monkeypatch.setattr(programming, "program", flaky)
    survey, _ = await program_file(client, tenant, "p.txt", (QUESTIONNAIRES / "patient-experience.txt").read_bytes())
    assert survey["programming_status"] == "completed" and calls["n"] == 2
    assert len(await events(app, tenant.workspace_id, "programming.started")) == 1
    assert [e.data["status"] for e in await events(app, tenant.workspace_id, "programming.finished")] == ["completed"]


async def test_nul_bytes_and_oversized_ids_are_clean_errors(client, tenant):
    assert (await client.get("/v1/surveys/a%00b", headers=tenant.headers)).status_code == 404
    assert (await client.get("/v1/files/" + "x" * 400, headers=tenant.headers)).status_code == 404
    assert (await client.get("/v1/pages/a%00b", headers=tenant.headers)).status_code == 404
    response = await client.post("/v1/surveys", headers=tenant.headers, json={"name": "bad\u0000name"})
    assert response.status_code == 422
    survey = (await client.post("/v1/surveys", headers=tenant.headers, json={"name": "ok"})).json()
    big = await client.put(f"/v1/surveys/{survey['id']}", headers=tenant.headers, json={"order": 10**30})
    assert big.status_code == 422
