"""Transcript import (JSON, WebVTT, SRT, text) and the conversations list/detail."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.campaigns.conftest import Api
from tests.helpers import SHARED

DATA = SHARED / "data" / "synthesis"


async def _upload(api: Api, iid: str, filename: str, content: bytes, ctype: str = "text/plain", **fields: str) -> Any:
    return await api.client.post(
        f"/v1/interviews/{iid}/conversations/import",
        files={"file": (filename, content, ctype)},
        data=fields,
        headers=api.headers,
    )


@pytest.mark.parametrize("dataset", ["facility-ops", "saas-onboarding"])
async def test_import_the_labelled_campaign_like_score_synthesis(api: Api, dataset: str) -> None:
    """The exact calls of tools/score_synthesis.py up to synthesis, with its .vtt/.txt files."""
    ds = DATA / dataset
    spec = json.loads((ds / "campaign.json").read_text())
    body = {k: v for k, v in spec.items() if k not in ("contacts", "topics")}
    campaign = await api.create(**body)
    iid = campaign["id"]
    for i, topic in enumerate(spec["topics"]):
        await api.topic(
            iid,
            name=topic["name"],
            description=topic.get("goal"),
            sort_order=i,
            topic_metadata={
                "priority": topic["priority"],
                "success_threshold": topic["success_threshold"],
                "sub_topics": topic["sub_topics"],
            },
            questions=[
                {"question_text": q["text"], "is_required": q["required"], "sort_order": j, "question_type": q["type"]}
                for j, q in enumerate(topic["questions"])
            ],
        )
    rows = [{k: v for k, v in c.items() if k != "ref"} for c in spec["contacts"]]
    created = (await api.post(f"/v1/interviews/{iid}/contacts/bulk", json={"contacts": rows})).json()["created"]
    id_of = {c["ref"]: created[i]["id"] for i, c in enumerate(spec["contacts"])}
    for contact in spec["contacts"]:
        ref = contact["ref"]
        files = [p for p in (ds / "conversations" / f"{ref}.vtt", ds / "conversations" / f"{ref}.txt") if p.exists()]
        if files:
            path = files[0]
            ctype = "text/vtt" if path.suffix == ".vtt" else "text/plain"
            response = await _upload(api, iid, path.name, path.read_bytes(), ctype, contact_id=id_of[ref])
        else:
            conv = json.loads((ds / "conversations" / f"{ref}.json").read_text())
            response = await api.post(
                f"/v1/interviews/{iid}/conversations/import",
                json={
                    "contact_id": id_of[ref],
                    "started_at": conv["started_at"],
                    "ended_at": conv["ended_at"],
                    "turns": conv["turns"],
                },
            )
        assert response.status_code == 201, response.text
        detail = response.json()
        assert detail["status"] == "completed" and detail["contact_id"] == id_of[ref]
        # same words as the JSON version of the conversation, same roles
        reference = json.loads((ds / "conversations" / f"{ref}.json").read_text())["turns"]
        got = [(t["speaker"], t["text"]) for t in detail["transcript"]]
        assert got == [(t["speaker"], t["text"]) for t in reference], ref
    completed = await api.post(f"/v1/interviews/{iid}/complete")
    assert completed.status_code == 200 and completed.json()["status"] == "completed"
    listing = (await api.get(f"/v1/interviews/{iid}/conversations", params={"limit": 500})).json()
    n = len(spec["contacts"])
    assert listing["total"] == n and {i["status"] for i in listing["items"]} == {"completed"}
    assert len(await api.events("interview.completed")) == n
    assert len(await api.jobs("knowledge.ingest_conversation")) == n
    assert [j.payload for j in await api.jobs("knowledge.synthesize")] == [{"interview_id": iid}]


async def test_json_import_with_inline_contact_and_durations(api: Api) -> None:
    iid = (await api.create())["id"]
    body = {
        "contact": {"name": "Sam Rivera", "email": "sam@example.com", "department": "Ops"},
        "started_at": "2026-04-20T14:00:00Z",
        "ended_at": "2026-04-20T14:27:00Z",
        "turns": [
            {"speaker": "agent", "text": "How do requests reach you?", "at": "2026-04-20T14:00:04Z"},
            {"speaker": "participant", "text": "Mostly email.", "at": "2026-04-20T14:00:19Z"},
        ],
    }
    response = await api.post(f"/v1/interviews/{iid}/conversations/import", json=body)
    assert response.status_code == 201, response.text
    detail = response.json()
    assert detail["duration_minutes"] == 27 and detail["contact"]["name"] == "Sam Rivera"
    assert detail["transcript"][0] == {
        "speaker": "agent",
        "text": "How do requests reach you?",
        "at": "2026-04-20T14:00:04Z",
    }
    assert detail["started_at"] == "2026-04-20T14:00:00Z" and detail["ended_at"] == "2026-04-20T14:27:00Z"
    event = (await api.events("interview.completed"))[0]["data"]
    assert event == {
        "interview_id": iid,
        "conversation_id": detail["id"],
        "contact": {"name": "Sam Rivera", "email": "sam@example.com"},
        "duration_minutes": 27,
    }
    again = await api.post(f"/v1/interviews/{iid}/conversations/import", json=body)
    assert again.status_code == 409  # the same contact (matched by email) already completed


async def test_out_of_order_timestamps_are_sorted(api: Api) -> None:
    iid = (await api.create())["id"]
    turns = [
        {"speaker": "participant", "text": "Second", "at": "2026-04-20T14:00:20Z"},
        {"speaker": "agent", "text": "First?", "at": "2026-04-20T14:00:01Z"},
        {"speaker": "agent", "text": "Third?", "at": "2026-04-20T14:05:00Z"},
    ]
    response = await api.post(
        f"/v1/interviews/{iid}/conversations/import", json={"contact": {"name": "X"}, "turns": turns}
    )
    detail = response.json()
    assert [t["text"] for t in detail["transcript"]] == ["First?", "Second", "Third?"]
    assert detail["started_at"] == "2026-04-20T14:00:01Z" and detail["ended_at"] == "2026-04-20T14:05:00Z"
    assert detail["duration_minutes"] == 5
    assert "reordered" in detail["import_meta"]["notes"][0]


async def test_zero_turns_and_bad_bodies(api: Api) -> None:
    iid = (await api.create())["id"]
    contact = {"name": "X"}
    for turns in ([], [{"speaker": "agent", "text": "   "}]):
        response = await api.post(
            f"/v1/interviews/{iid}/conversations/import", json={"contact": contact, "turns": turns}
        )
        assert response.status_code == 422 and "no turns" in response.json()["detail"]
    missing = await api.post(
        f"/v1/interviews/{iid}/conversations/import", json={"turns": [{"speaker": "a", "text": "b"}]}
    )
    assert missing.status_code == 422
    broken = await api.client.post(
        f"/v1/interviews/{iid}/conversations/import",
        content=b"{not json",
        headers={**api.headers, "Content-Type": "application/json"},
    )
    assert broken.status_code == 400 and broken.json()["code"] == "malformed_request"
    xml = await api.client.post(
        f"/v1/interviews/{iid}/conversations/import",
        content=b"<x/>",
        headers={**api.headers, "Content-Type": "application/xml"},
    )
    assert xml.status_code == 415
    unknown = await api.post(
        f"/v1/interviews/{iid}/conversations/import",
        json={"contact_id": "nope", "turns": [{"speaker": "a", "text": "b"}]},
    )
    assert unknown.status_code == 404
    no_file = await api.client.post(
        f"/v1/interviews/{iid}/conversations/import",
        data={"contact_id": "x"},
        files={"other": ("a.txt", b"x")},
        headers=api.headers,
    )
    assert no_file.status_code == 422 and no_file.json()["detail"][0]["loc"] == ["body", "file"]
    empty_file = await _upload(api, iid, "t.txt", b"\n\n", name="Someone")
    assert empty_file.status_code == 422


VTT = """WEBVTT

NOTE exported from a meeting tool

1
00:00:03.000 --> 00:00:08.000
<v.loud Moderator>Hi Ana, thanks for joining.
How does work reach you?</v>

2
00:00:09.500 --> 00:00:20.000
<v Ana Ruiz>Mostly by email,
sometimes by phone.

3
00:00:20.000 --> 00:00:31.000
<v Ana Ruiz>And tickets &amp; chats.

4
00:01:10.000 --> 00:01:15.000
<v Moderator>What happens next?
"""


async def test_webvtt_voices_multiline_and_merging(api: Api) -> None:
    iid = (await api.create())["id"]
    response = await _upload(
        api, iid, "call.vtt", VTT.encode(), "text/vtt", name="Ana Ruiz", started_at="2026-05-01T10:00:00Z"
    )
    assert response.status_code == 201, response.text
    detail = response.json()
    assert [(t["speaker"], t["text"]) for t in detail["transcript"]] == [
        ("agent", "Hi Ana, thanks for joining. How does work reach you?"),
        ("participant", "Mostly by email, sometimes by phone. And tickets & chats."),
        ("agent", "What happens next?"),
    ]
    assert detail["transcript"][1]["at"] == "2026-05-01T10:00:09.500000Z"
    assert detail["import_meta"]["speakers"] == {"Moderator": "agent", "Ana Ruiz": "participant"}
    assert detail["contact"]["name"] == "Ana Ruiz"


async def test_vtt_without_speakers_is_refused(api: Api) -> None:
    iid = (await api.create())["id"]
    plain = "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nHello there\n\n00:00:03.000 --> 00:00:04.000\nHi\n"
    response = await _upload(api, iid, "x.vtt", plain.encode(), "text/vtt", name="Nobody")
    assert response.status_code == 422 and "voice tag" in response.json()["detail"]


async def test_srt_with_name_prefixes_and_question_based_interviewer(api: Api) -> None:
    iid = (await api.create())["id"]
    srt = (
        "1\n00:00:01,000 --> 00:00:04,000\nJane Doe: Thanks for your time. What tools do you use?\n\n"
        "2\n00:00:05,000 --> 00:00:09,000\nOmar Haddad: Mostly Excel and a shared inbox.\n\n"
        "3\n00:00:10,000 --> 00:00:12,000\nJane Doe: Why Excel? What breaks?\n\n"
        "4\n00:00:13,000 --> 00:00:20,000\nOmar Haddad: Versions get lost.\n"
    )
    response = await _upload(api, iid, "call.srt", srt.encode(), "application/x-subrip", name="Omar Haddad")
    assert response.status_code == 201, response.text
    detail = response.json()
    assert [t["speaker"] for t in detail["transcript"]] == ["agent", "participant", "agent", "participant"]
    assert detail["import_meta"]["format"] == "srt"


async def test_plain_text_continuations_and_timestamps(api: Api) -> None:
    iid = (await api.create())["id"]
    text = (
        "[00:00:01] Researcher: Could you describe your week?\n"
        "[00:00:09] Lee: Busy. Note: Mondays are worst.\n"
        "We also get a lot of calls.\n"
        "\n"
        "[00:10:30] Researcher: Thanks!\n"
    )
    response = await _upload(api, iid, "notes.txt", text.encode("cp1252"), name="Lee")
    assert response.status_code == 201, response.text
    detail = response.json()
    assert [(t["speaker"], t["text"]) for t in detail["transcript"]] == [
        ("agent", "Could you describe your week?"),
        ("participant", "Busy. Note: Mondays are worst. We also get a lot of calls."),
        ("agent", "Thanks!"),
    ]
    assert detail["duration_minutes"] == 10


async def test_json_file_and_pdf_upload(api: Api) -> None:
    iid = (await api.create())["id"]
    conv = json.loads((DATA / "saas-onboarding" / "conversations" / "c01.json").read_text())
    response = await _upload(api, iid, "c01.json", json.dumps(conv).encode(), "application/json", name="C One")
    assert response.status_code == 201 and len(response.json()["transcript"]) == len(conv["turns"])
    pdf = await _upload(api, iid, "t.pdf", b"%PDF-1.4 binary\x00\x01", "application/pdf", name="P")
    assert pdf.status_code == 400 and "PDF" in pdf.json()["detail"]


async def test_five_megabyte_transcript(api: Api) -> None:
    iid = (await api.create())["id"]
    answer = "We log every request in a spreadsheet and then chase the vendor by phone. " * 30
    lines = []
    while sum(len(line) for line in lines) < 5 * 1024 * 1024:
        lines.append("Interviewer: And then what happens?")
        lines.append(f"Kim: {answer}")
    payload = "\n".join(lines).encode()
    assert len(payload) > 5 * 1024 * 1024
    response = await _upload(api, iid, "long.txt", payload, name="Kim")
    assert response.status_code == 201, response.text[:300]
    assert len(response.json()["transcript"]) == len(lines)
    found = (await api.get(f"/v1/interviews/{iid}/conversations", params={"search": "CHASE THE VENDOR"})).json()
    assert found["total"] == 1


async def test_list_filters_search_and_paging(api: Api) -> None:
    campaign, contacts = await api.ready(12)
    iid = campaign["id"]
    for i, contact in enumerate(contacts[:6]):
        text = "We use SAP for invoices" if i % 2 else "Paper checklists 100% of the time"
        turns = [{"speaker": "agent", "text": "Tell me about tools?"}, {"speaker": "participant", "text": text}]
        response = await api.post(
            f"/v1/interviews/{iid}/conversations/import", json={"contact_id": contact["id"], "turns": turns}
        )
        assert response.status_code == 201
    await api.post(f"/v1/interviews/{iid}/start")  # the six others get scheduled conversations
    everything = (await api.get(f"/v1/interviews/{iid}/conversations")).json()
    assert everything["total"] == 12 and everything["has_more"] is False
    assert everything["departments"] == ["Finance", "Ops"] and everything["job_titles"] == ["Manager", "Technician"]
    completed = (await api.get(f"/v1/interviews/{iid}/conversations", params={"status": "completed"})).json()
    assert completed["total"] == 6
    sap = (await api.get(f"/v1/interviews/{iid}/conversations", params={"search": "sap"})).json()
    assert sap["total"] == 3
    percent = (await api.get(f"/v1/interviews/{iid}/conversations", params={"search": "100%"})).json()
    assert percent["total"] == 3  # % is a literal, not a wildcard
    underscore = (await api.get(f"/v1/interviews/{iid}/conversations", params={"search": "_"})).json()
    assert underscore["total"] == 0
    by_name = (await api.get(f"/v1/interviews/{iid}/conversations", params={"search": "person p11"})).json()
    assert [i["name"] for i in by_name["items"]] == ["Person p11"]
    ops = (
        await api.get(f"/v1/interviews/{iid}/conversations", params={"department": "ops", "job_title": "technician"})
    ).json()
    assert ops["total"] > 0 and all(i["department"] == "Ops" and i["job_title"] == "Technician" for i in ops["items"])
    page = (await api.get(f"/v1/interviews/{iid}/conversations", params={"limit": 5, "offset": 5})).json()
    assert len(page["items"]) == 5 and page["has_more"] is True and page["total"] == 12
    last = (await api.get(f"/v1/interviews/{iid}/conversations", params={"limit": 5, "offset": 10})).json()
    assert len(last["items"]) == 2 and last["has_more"] is False
    ids = [i["id"] for i in everything["items"]]
    assert len(set(ids)) == 12
    for bad in ({"limit": 0}, {"limit": 501}, {"offset": -1}, {"status": "weird"}):
        assert (await api.get(f"/v1/interviews/{iid}/conversations", params=bad)).status_code == 422
    row = next(i for i in completed["items"])
    assert set(row) >= {
        "id",
        "contact_id",
        "name",
        "contact_name",
        "job_title",
        "department",
        "seniority_level",
        "status",
        "duration_minutes",
        "digital_maturity_score",
        "pain_point_count",
        "completed_at",
        "summary",
        "session_id",
        "reminder_count",
    }
    detail = (await api.get(f"/v1/interviews/{iid}/conversations/{row['id']}")).json()
    assert set(detail) >= {
        "id",
        "contact_id",
        "contact",
        "status",
        "summary",
        "transcript",
        "duration_minutes",
        "digital_maturity_score",
        "extracted_pain_points",
        "tools_mentioned",
        "processes_touched",
        "started_at",
        "ended_at",
        "topic_coverage",
    }
    assert set(detail["contact"]) >= {"id", "name", "job_title", "department", "seniority_level"}
    assert (await api.get(f"/v1/interviews/{iid}/conversations/nope")).status_code == 404


@pytest.mark.parametrize(
    ("labels", "agent"),
    [
        (("Host", "Priya"), "Host"),
        (("Speaker 1", "Speaker 2"), "Speaker 1"),  # asks the questions
        (("Participant", "Q"), "Q"),
    ],
)
async def test_interviewer_recognition(api: Api, labels: tuple[str, str], agent: str) -> None:
    from harken.conversations.importers import RawTurn, assign_roles

    a, b = labels
    turns = [RawTurn(a, "What do you do?"), RawTurn(b, "I run ops."), RawTurn(a, "Why?"), RawTurn(b, "Because.")]
    roles = assign_roles(turns)
    assert roles[agent] == "agent" and list(roles.values()).count("agent") == 1


async def test_nul_characters_never_reach_the_database(api: Api) -> None:
    campaign, contacts = await api.ready(1)
    iid = campaign["id"]
    bad_contact = await api.post(f"/v1/interviews/{iid}/contacts", json={"name": "A\u0000B"})
    assert bad_contact.status_code == 422
    bad_turn = {"contact_id": contacts[0]["id"], "turns": [{"speaker": "agent", "text": "hi\u0000"}]}
    assert (await api.post(f"/v1/interviews/{iid}/conversations/import", json=bad_turn)).status_code == 422
    assert (await api.get(f"/v1/interviews/{iid}/conversations", params={"search": "a\u0000"})).status_code == 422
    assert (await api.get(f"/v1/interviews/{iid}%00")).status_code == 404
    assert (await api.get(f"/v1/interviews/{iid}/contacts/x%00y")).status_code == 404
    assert (await api.get(f"/v1/interviews/{iid}/conversations/x%00")).status_code == 404
    assert (await api.get("/v1/interviews", params={"project_id": "p\u0000"})).json() == []
    as_file = json.dumps(
        {"turns": [{"speaker": "agent", "text": "Why?\u0000"}, {"speaker": "participant", "text": "Because"}]}
    )
    response = await _upload(api, iid, "t.json", as_file.encode(), "application/json", contact_id=contacts[0]["id"])
    assert response.status_code == 201 and response.json()["transcript"][0]["text"] == "Why?"
