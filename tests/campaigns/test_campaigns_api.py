"""Campaign CRUD, defaults, validation, question sets and workspace isolation."""

from __future__ import annotations

import pytest

from tests.campaigns.conftest import TOPIC, Api


async def test_create_defaults_and_echo(api: Api) -> None:
    campaign = await api.create(
        goal="Understand intake",
        interview_order="seniority_high_first",
        scheduling_mode="availability",
        weekly_availability={"mon": ["09:00-12:00"]},
        is_anonymous=True,
        folder="Q2",
        teams_invitation_message="Hi",
        interview_duration_minutes=27,
    )
    assert campaign["status"] == "draft" and campaign["channel"] == "in_app_chat"
    assert campaign["completion_threshold"] == 90 and campaign["interview_duration_minutes"] == 30
    assert campaign["interview_order"] == "seniority_high_first" and campaign["weekly_availability"] == {
        "mon": ["09:00-12:00"]
    }
    assert (
        campaign["is_anonymous"] is True and campaign["folder"] == "Q2" and campaign["teams_invitation_message"] == "Hi"
    )
    assert campaign["created_by"].startswith("api_key:")
    assert campaign["contact_count"] == campaign["completed_count"] == campaign["scheduled_count"] == 0
    assert campaign["created_at"].endswith("Z") and campaign["workspace_id"] == api.tenant.workspace_id
    fetched = (await api.get(f"/v1/interviews/{campaign['id']}")).json()
    assert fetched == campaign


@pytest.mark.parametrize(
    ("given", "snapped"),
    [
        (None, 30),
        (0, 30),
        (1, 5),
        (7, 5),
        (8, 10),
        (12, 10),
        (13, 15),
        (17, 15),
        (18, 20),
        (25, 20),
        (26, 30),
        (37, 30),
        (38, 45),
        (90, 45),
    ],
)
async def test_duration_snapping(api: Api, given: int | None, snapped: int) -> None:
    campaign = await api.create(interview_duration_minutes=given)
    assert campaign["interview_duration_minutes"] == snapped


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("channel", "fax"),
        ("completion_threshold", 101),
        ("timezone", "Mars/Olympus"),
        ("timeframe_start", "yesterday"),
        ("interview_duration_minutes", -5),
        ("name", ""),
        ("topics", [{"goal": "no name"}]),
        ("topics", [{"name": "T", "priority": "urgent"}]),
    ],
)
async def test_create_rejects_bad_values(api: Api, field: str, value: object) -> None:
    body = {"workspace_id": api.tenant.workspace_id, "name": "X", field: value}
    response = await api.post("/v1/interviews", json=body)
    assert response.status_code == 422, response.text
    assert isinstance(response.json()["detail"], list)


async def test_missing_name_error_shape(api: Api) -> None:
    response = await api.post(
        "/v1/interviews", json={"workspace_id": api.tenant.workspace_id, "topics": [{"goal": "g"}]}
    )
    assert response.status_code == 422
    locs = [e["loc"] for e in response.json()["detail"]]
    assert ["body", "name"] in locs and ["body", "topics", 0, "name"] in locs


async def test_inline_topics_become_question_sets(api: Api) -> None:
    topics = [
        {
            "name": "Intake",
            "goal": "How work arrives",
            "priority": "required",
            "success_threshold": "0.8",
            "sub_topics": ["Channels"],
            "questions": [{"text": "Walk me through it", "type": "open_ended", "required": True}],
        },
        {"name": "Vendors", "priority": "optional", "success_threshold": 60},
    ]
    campaign = await api.create(topics=topics)
    sets = (await api.get(f"/v1/interviews/{campaign['id']}/question-sets")).json()
    assert [s["name"] for s in sets] == ["Intake", "Vendors"]
    assert (
        sets[0]["topic_metadata"]["success_threshold"] == 0.8 and sets[1]["topic_metadata"]["success_threshold"] == 0.6
    )
    assert sets[0]["description"] == "How work arrives" and sets[0]["topic_metadata"]["sub_topics"] == ["Channels"]
    question = sets[0]["questions"][0]
    assert question["question_text"] == "Walk me through it" and question["is_required"] is True and question["id"]


async def test_list_filters_and_workspace_checks(api: Api, other_api: Api) -> None:
    a = await api.create(project_id="proj-1")
    b = await api.create(name="Other")
    await api.topic(b["id"])
    await api.contacts(b["id"], 1)
    await api.post(f"/v1/interviews/{b['id']}/start")
    await other_api.create()
    mine = (await api.get("/v1/interviews")).json()  # workspace defaults to the key's
    assert {c["id"] for c in mine} == {a["id"], b["id"]}
    explicit = (await api.get("/v1/interviews", params={"workspace_id": api.tenant.workspace_id})).json()
    assert len(explicit) == 2
    assert [c["id"] for c in (await api.get("/v1/interviews", params={"status": "active"})).json()] == [b["id"]]
    assert [c["id"] for c in (await api.get("/v1/interviews", params={"project_id": "proj-1"})).json()] == [a["id"]]
    assert (await api.get("/v1/interviews", params={"status": "weird"})).status_code == 422
    forbidden = await api.get("/v1/interviews", params={"workspace_id": other_api.tenant.workspace_id})
    assert forbidden.status_code == 403 and forbidden.json()["code"] == "workspace_forbidden"
    create_elsewhere = await api.post(
        "/v1/interviews", json={"workspace_id": other_api.tenant.workspace_id, "name": "x"}
    )
    assert create_elsewhere.status_code == 403


async def test_cross_workspace_ids_are_not_found(api: Api, other_api: Api) -> None:
    campaign, contacts = await api.ready(1)
    iid = campaign["id"]
    qs = (await api.get(f"/v1/interviews/{iid}/question-sets")).json()[0]
    gets = ["", "/detail", "/progress", "/question-sets", f"/question-sets/{qs['id']}", "/contacts", "/conversations"]
    for suffix in gets:
        response = await other_api.get(f"/v1/interviews/{iid}{suffix}")
        assert response.status_code == 404 and response.json()["code"] == "not_found", suffix
    for action in ("start", "pause", "resume", "complete"):
        assert (await other_api.post(f"/v1/interviews/{iid}/{action}")).status_code == 404
    assert (await other_api.patch(f"/v1/interviews/{iid}", {"name": "hijack"})).status_code == 404
    assert (await other_api.delete(f"/v1/interviews/{iid}")).status_code == 404
    assert (await other_api.post(f"/v1/interviews/{iid}/question-sets", json=TOPIC)).status_code == 404
    turns = {"contact_id": contacts[0]["id"], "turns": [{"speaker": "agent", "text": "hi"}]}
    assert (await other_api.post(f"/v1/interviews/{iid}/conversations/import", json=turns)).status_code == 404
    # and the other tenant's own campaign cannot reach this tenant's contact
    theirs = await other_api.create()
    response = await other_api.post(f"/v1/interviews/{theirs['id']}/conversations/import", json=turns)
    assert response.status_code == 404
    assert (await api.get(f"/v1/interviews/{iid}")).json()["name"] == "Q2 interviews"


async def test_patch_fields(api: Api) -> None:
    campaign = await api.create(goal="old", folder="A")
    iid = campaign["id"]
    response = await api.patch(
        f"/v1/interviews/{iid}", {"goal": "new", "interview_duration_minutes": 14, "folder": None}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["goal"] == "new" and body["interview_duration_minutes"] == 15 and body["folder"] is None
    assert body["name"] == "Q2 interviews"
    assert (await api.patch(f"/v1/interviews/{iid}", {"channel": "pigeon"})).status_code == 422
    bad_window = await api.patch(
        f"/v1/interviews/{iid}", {"timeframe_start": "2030-01-02T00:00:00Z", "timeframe_end": "2030-01-01T00:00:00Z"}
    )
    assert bad_window.status_code == 422
    assert (await api.patch(f"/v1/interviews/{iid}", {"workspace_id": "someone-else"})).status_code == 403


async def test_detail_and_progress(api: Api) -> None:
    campaign, contacts = await api.ready(4)
    iid = campaign["id"]
    await api.post(f"/v1/interviews/{iid}/start")
    await api.post(f"/v1/interviews/{iid}/contacts/{contacts[0]['id']}/cancel", json={"mark_as_skipped": True})
    detail = (await api.get(f"/v1/interviews/{iid}/detail")).json()
    assert detail["interview"]["id"] == iid and len(detail["question_sets"]) == 1 and len(detail["contacts"]) == 4
    assert detail["invitations_scheduled_for"] is None
    progress = (await api.get(f"/v1/interviews/{iid}/progress")).json()
    assert progress["total"] == 4 and progress["scheduled"] == 3 and progress["completed"] == 0
    assert progress["by_status"]["skipped"] == 1 and progress["completion_percent"] == 0.0


async def test_question_set_crud_and_component_config(api: Api) -> None:
    iid = (await api.create())["id"]
    questions = [
        {
            "question_text": "Rank these",
            "question_type": "ranking",
            "component_config": {"items": [{"id": 1, "label": "A"}, {"id": 2, "label": "B"}]},
        },
        {
            "question_text": "Rate",
            "question_type": "matrix",
            "component_config": {"rows": [{"id": "r", "label": "Speed"}], "columns": [{"id": "c", "label": "Good"}]},
        },
        {
            "question_text": "How much",
            "question_type": "range_slider",
            "component_config": {"min": 0, "max": 10, "step": 1},
        },
        {"question_text": "Pick", "question_type": "single_choice", "options": ["Yes", "No"]},
        {"question_text": "Agree?", "question_type": "likert_scale"},
        {"question_text": "Note", "question_type": "statement"},
        {"question_text": "Many", "question_type": "multiple_choice", "options": ["a", "b", "c"]},
        {"question_text": "Tell me"},
    ]
    created = await api.post(f"/v1/interviews/{iid}/question-sets", json={**TOPIC, "questions": questions})
    assert created.status_code == 201, created.text
    assert [q["question_type"] for q in created.json()["questions"]] == [
        "ranking",
        "matrix",
        "range_slider",
        "single_choice",
        "likert_scale",
        "statement",
        "multiple_choice",
        "open_ended",
    ]
    bad = [
        {"question_text": "Rank", "question_type": "ranking"},
        {
            "question_text": "Rank",
            "question_type": "ranking",
            "component_config": {"items": [{"id": 1, "label": "only"}]},
        },
        {"question_text": "Grid", "question_type": "matrix", "component_config": {"rows": []}},
        {"question_text": "Slide", "question_type": "range_slider", "component_config": {"min": 5, "max": 1}},
        {"question_text": "Pick", "question_type": "single_choice", "options": ["only"]},
        {"question_text": "?", "question_type": "essay"},
    ]
    for question in bad:
        response = await api.post(f"/v1/interviews/{iid}/question-sets", json={**TOPIC, "questions": [question]})
        assert response.status_code == 422, question
    bad_priority = await api.post(
        f"/v1/interviews/{iid}/question-sets", json={**TOPIC, "topic_metadata": {"priority": "urgent"}}
    )
    assert bad_priority.status_code == 422
    qs_id = created.json()["id"]
    patched = await api.patch(
        f"/v1/interviews/{iid}/question-sets/{qs_id}", {"name": "Renamed", "topic_metadata": {"priority": "optional"}}
    )
    assert patched.json()["name"] == "Renamed" and patched.json()["topic_metadata"]["priority"] == "optional"
    assert len(patched.json()["questions"]) == 8
    assert (await api.delete(f"/v1/interviews/{iid}/question-sets/{qs_id}")).status_code == 204
    assert (await api.get(f"/v1/interviews/{iid}/question-sets")).json() == []
    assert (await api.delete(f"/v1/interviews/{iid}/question-sets/{qs_id}")).status_code == 404


async def test_editing_topics_marks_completed_synthesis_stale(api: Api) -> None:
    from harken.campaigns.models import Campaign

    campaign, _ = await api.ready(1)
    iid = campaign["id"]
    await api.post(f"/v1/interviews/{iid}/start")
    qs = (await api.get(f"/v1/interviews/{iid}/question-sets")).json()[0]
    await api.patch(f"/v1/interviews/{iid}/question-sets/{qs['id']}", {"name": "still pending"})
    assert (await api.get(f"/v1/interviews/{iid}")).json()["synthesis_status"] == "pending"
    async with api.app.state.db.session() as session:
        (await session.get(Campaign, iid)).synthesis_status = "completed"
    response = await api.patch(f"/v1/interviews/{iid}/question-sets/{qs['id']}", {"description": "edited"})
    assert response.status_code == 200
    assert (await api.get(f"/v1/interviews/{iid}")).json()["synthesis_status"] == "stale"


async def test_scope_is_required(api: Api) -> None:
    from tests.helpers import add_key

    key = await add_key(api.app.state.db, api.tenant.workspace_id, ["webhooks"])
    response = await api.client.get("/v1/interviews", headers={"X-API-Key": key})
    assert response.status_code == 403 and response.json()["code"] == "insufficient_scope"
    assert (await api.client.get("/v1/interviews")).status_code == 401


async def test_out_of_range_numbers_are_422_not_500(api: Api) -> None:
    """Found by schemathesis against PostgreSQL: values past the column types."""
    iid = (await api.create())["id"]
    huge = await api.post(
        f"/v1/interviews/{iid}/question-sets", json={**TOPIC, "sort_order": -5731164223961549320969256960}
    )
    assert huge.status_code == 422
    assert (await api.get(f"/v1/interviews/{iid}/conversations", params={"offset": 10**19})).status_code == 422
    nan = await api.client.post(
        f"/v1/interviews/{iid}/question-sets",
        content=b'{"name": "t", "topic_metadata": {"success_threshold": NaN}}',
        headers={**api.headers, "Content-Type": "application/json"},
    )
    assert nan.status_code in (400, 422)
    slider = (
        b'{"name": "t", "questions": [{"question_text": "s", "question_type": "range_slider",'
        b' "component_config": {"min": 0, "max": 1e400}}]}'
    )
    response = await api.client.post(
        f"/v1/interviews/{iid}/question-sets",
        content=slider,
        headers={**api.headers, "Content-Type": "application/json"},
    )
    assert response.status_code in (400, 422)
