"""Contacts: single, bulk, CSV import (encodings, delimiters, aliases, bad rows), updates, isolation."""

from __future__ import annotations

from sqlalchemy import func, select

from harken.campaigns.models import Contact
from tests.campaigns.conftest import Api
from tests.helpers import SHARED


async def _csv(api: Api, iid: str, content: bytes, *, path: str = "import", name: str = "contacts.csv", **params: str):
    files = {"file": (name, content, "text/csv")}
    return await api.client.post(
        f"/v1/interviews/{iid}/contacts/{path}", files=files, params=params or None, headers=api.headers
    )


async def test_single_contact_defaults_and_validation(api: Api) -> None:
    iid = (await api.create())["id"]
    response = await api.post(f"/v1/interviews/{iid}/contacts", json={"name": "Sam Rivera", "email": "Sam@Example.com"})
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "pending" and body["is_required"] is False and body["reminder_count"] == 0
    assert body["interview_id"] == iid and body["meeting_url"] is None and body["booking_token"] is None
    no_name = await api.post(f"/v1/interviews/{iid}/contacts", json={"email": "x@example.com"})
    assert no_name.status_code == 422 and no_name.json()["detail"][0]["loc"] == ["body", "name"]
    senior = await api.post(f"/v1/interviews/{iid}/contacts", json={"name": "A", "seniority_level": 9})
    assert senior.status_code == 422 and senior.json()["detail"][0]["loc"] == ["body", "seniority_level"]
    bad_email = await api.post(f"/v1/interviews/{iid}/contacts", json={"name": "A", "email": "not-an-email"})
    assert bad_email.status_code == 422
    duplicate = await api.post(f"/v1/interviews/{iid}/contacts", json={"name": "Sam again", "email": "sam@example.COM"})
    assert duplicate.status_code == 409 and duplicate.json()["code"] == "conflict"
    foreign_qs = await api.post(f"/v1/interviews/{iid}/contacts", json={"name": "A", "question_set_id": "nope"})
    assert foreign_qs.status_code == 422 and foreign_qs.json()["detail"][0]["loc"] == ["body", "question_set_id"]


async def test_bulk_5000_in_one_request_with_duplicates_skipped(api: Api) -> None:
    iid = (await api.create())["id"]
    await api.contacts(iid, 2)  # p0, p1 exist already
    people = [{"name": f"Person {i}", "email": f"p{i}@example.com"} for i in range(5000)]
    people[10]["email"] = "P11@example.com"  # duplicate of row 11 inside the batch (first wins)
    response = await api.post(f"/v1/interviews/{iid}/contacts/bulk", json={"contacts": people})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["count"] == len(body["created"]) == 4997
    assert sorted((s["index"], s["reason"]) for s in body["skipped"]) == [
        (0, "duplicate email"),
        (1, "duplicate email"),
        (11, "duplicate email"),
    ]
    assert (await api.get(f"/v1/interviews/{iid}")).json()["contact_count"] == 4999
    too_many = await api.post(f"/v1/interviews/{iid}/contacts/bulk", json={"contacts": [{"name": "x"}] * 5001})
    assert too_many.status_code == 422


async def test_bulk_is_one_transaction(api: Api) -> None:
    iid = (await api.create())["id"]
    people = [{"name": f"P{i}"} for i in range(50)] + [{"name": "Bad", "seniority_level": 9}]
    response = await api.post(f"/v1/interviews/{iid}/contacts/bulk", json={"contacts": people})
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == [
        "body",
        "contacts",
        50,
        "seniority_level",
    ]
    async with api.app.state.db.session() as session:
        count = (
            await session.execute(select(func.count()).select_from(Contact).where(Contact.interview_id == iid))
        ).scalar()
    assert count == 0


async def test_bulk_accepts_cli_style_rows(api: Api) -> None:
    """`ontora contacts import` posts raw CSV rows: header-cased keys, strings, unknown columns."""
    iid = (await api.create())["id"]
    rows = [
        {
            "Full name": "Ana Ruiz",
            "E-mail": "ana@example.com",
            "Job title": "Planner",
            "Seniority": "4",
            "Office": "Lyon",
        }
    ]
    response = await api.post(f"/v1/interviews/{iid}/contacts/bulk", json={"contacts": rows})
    created = response.json()["created"][0]
    assert (created["name"], created["email"], created["job_title"], created["seniority_level"]) == (
        "Ana Ruiz",
        "ana@example.com",
        "Planner",
        4,
    )


async def test_csv_variants(api: Api) -> None:
    iid = (await api.create())["id"]
    content = (
        "\ufeffFull name;E-mail;Job title;Department;Seniority;Favourite colour\n"
        "Ana Ruiz;ana@example.com;Planner;Ops;3;blue\n"
        "\n"
        '"Lee, Jo";jo@example.com;"Tech; lead";Ops;2;\n'
        ";nobody@example.com;;;;\n"
        "Max Hart;max@example.com;;;9;\n"
        "Ana Again;ANA@example.com;;;;\n"
        "Bo Chen;bo@example;;;;\n"
    ).encode("utf-8")
    response = await _csv(api, iid, content)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["imported"] == 2 and body["skipped"] == 4 and body["imported"] + body["skipped"] == 6
    assert body["errors"][0].startswith("line 5: missing name")
    assert body["errors"][1].startswith("line 6: seniority_level")
    assert body["errors"][2] == "line 7: ANA@example.com is already in this interview"
    assert body["errors"][3].startswith("line 8: email")
    contacts = {c["name"]: c for c in (await api.get(f"/v1/interviews/{iid}/contacts")).json()}
    assert contacts["Lee, Jo"]["job_title"] == "Tech; lead" and contacts["Ana Ruiz"]["seniority_level"] == 3
    # the alias route, a second import: every email already present
    again = await _csv(api, iid, content, path="csv")
    assert again.json()["imported"] == 0 and again.json()["skipped"] == 6


async def test_csv_encodings_and_binaries(api: Api) -> None:
    iid = (await api.create())["id"]
    latin = "name,email,department\nJosé Núñez,jose@example.com,Contabilité\n".encode("cp1252")
    response = await _csv(api, iid, latin)
    assert response.json()["imported"] == 1
    assert (await api.get(f"/v1/interviews/{iid}/contacts")).json()[0]["name"] == "José Núñez"
    utf16 = "name\tE-mail address\nZoë Park\tzoe@example.com\n".encode("utf-16")
    assert (await _csv(api, iid, utf16)).json()["imported"] == 1
    pdf = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n" + bytes(range(256))
    refused = await _csv(api, iid, pdf, name="contacts.csv")
    assert refused.status_code == 400 and refused.json()["code"] == "malformed_request"
    assert "PDF" in refused.json()["detail"]
    binary = bytes(range(256)) * 10
    assert (await _csv(api, iid, binary)).status_code == 400
    no_name_column = await _csv(api, iid, b"email,phone\na@example.com,1\n")
    assert no_name_column.status_code == 422 and "name column" in no_name_column.json()["detail"]
    empty = await _csv(api, iid, b"\n\n")
    assert empty.status_code == 422


async def test_csv_10000_rows_with_question_set(api: Api) -> None:
    iid = (await api.create())["id"]
    qs = await api.topic(iid)
    lines = ["Name,Email,Title,Department,Seniority"]
    lines += [f"Person {i},person{i}@example.com,Engineer,Dept {i % 7},{1 + i % 5}" for i in range(10000)]
    response = await _csv(api, iid, ("\r\n".join(lines) + "\r\n").encode(), question_set_id=qs["id"])
    assert response.status_code == 200
    assert response.json() == {"imported": 10000, "skipped": 0, "errors": []}
    listed = (await api.get(f"/v1/interviews/{iid}/contacts")).json()
    assert len(listed) == 10000 and {c["question_set_id"] for c in listed} == {qs["id"]}
    unknown_qs = await _csv(api, iid, b"name\nX\n", question_set_id="missing")
    assert unknown_qs.status_code == 404


async def test_contact_update_delete_and_status_filter(api: Api, other_api: Api) -> None:
    campaign, contacts = await api.ready(3)
    iid, cid = campaign["id"], contacts[0]["id"]
    patched = await api.patch(f"/v1/interviews/{iid}/contacts/{cid}", {"job_title": "Lead", "seniority_level": 5})
    assert patched.status_code == 200 and patched.json()["job_title"] == "Lead"
    clash = await api.patch(f"/v1/interviews/{iid}/contacts/{cid}", {"email": contacts[1]["email"].upper()})
    assert clash.status_code == 409
    assert (await api.patch(f"/v1/interviews/{iid}/contacts/{cid}", {"seniority_level": 0})).status_code == 422
    await api.post(f"/v1/interviews/{iid}/start")
    await api.post(f"/v1/interviews/{iid}/contacts/{cid}/cancel", json={})
    cancelled = (await api.get(f"/v1/interviews/{iid}/contacts", params={"status": "cancelled"})).json()
    assert [c["id"] for c in cancelled] == [cid]
    assert (await api.get(f"/v1/interviews/{iid}/contacts", params={"status": "bogus"})).status_code == 422
    # another workspace sees nothing
    for path in (f"/v1/interviews/{iid}/contacts", f"/v1/interviews/{iid}/contacts/{cid}"):
        assert (await other_api.get(path)).status_code == 404
    assert (await other_api.delete(f"/v1/interviews/{iid}/contacts/{cid}")).status_code == 404
    assert (await other_api.post(f"/v1/interviews/{iid}/contacts", json={"name": "Intruder"})).status_code == 404
    assert (await api.delete(f"/v1/interviews/{iid}/contacts/{cid}")).status_code == 204
    assert (await api.get(f"/v1/interviews/{iid}/contacts/{cid}")).status_code == 404


async def test_completed_campaign_takes_no_contacts(api: Api) -> None:
    campaign, _ = await api.ready(1)
    iid = campaign["id"]
    await api.post(f"/v1/interviews/{iid}/start")
    await api.post(f"/v1/interviews/{iid}/complete")
    response = await api.post(f"/v1/interviews/{iid}/contacts", json={"name": "Too late"})
    assert response.status_code == 409 and response.json()["code"] == "campaign_locked"


async def test_campaign_file_contacts_round_trip(api: Api) -> None:
    """The labelled campaign's contacts (as score_synthesis sends them) are accepted as-is."""
    import json

    campaign = json.loads((SHARED / "data" / "synthesis" / "facility-ops" / "campaign.json").read_text())
    iid = (await api.create())["id"]
    rows = [{k: v for k, v in c.items() if k != "ref"} for c in campaign["contacts"]]
    created = (await api.post(f"/v1/interviews/{iid}/contacts/bulk", json={"contacts": rows})).json()["created"]
    assert [c["email"] for c in created] == [c["email"] for c in campaign["contacts"]]
