"""File uploads: content sniffing, checksum, limits, bad input, isolation (contract §4)."""

from __future__ import annotations

import hashlib

import pytest

from tests.helpers import add_key
from tests.surveys.conftest import QUESTIONNAIRES, make_zip_bomb_docx, upload

EXPECTED_MIME = {
    "csat-retail.docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "b2b-brand-tracker.pdf": "application/pdf",
    "patient-experience.txt": "text/plain",
    "employee-pulse.md": "text/markdown",
    "event-feedback.xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


@pytest.mark.parametrize("name", sorted(EXPECTED_MIME))
async def test_upload_sniffs_type_and_records_checksum(client, tenant, settings, name):
    data = (QUESTIONNAIRES / name).read_bytes()
    # The client claims a generic type: the server must find the real one from the bytes.
    response = await upload(client, tenant, name, data, "application/octet-stream")
    assert response.status_code == 201, response.text
    body = response.json()
    assert {"id", "name", "mime_type", "size_bytes", "org_id", "survey_id", "created_at"} <= set(body)
    assert body["mime_type"] == EXPECTED_MIME[name]
    assert body["size_bytes"] == len(data)
    assert body["org_id"] == tenant.workspace_id
    assert body["sha256"] == hashlib.sha256(data).hexdigest()
    assert body["created_at"].endswith("Z")
    stored = list((settings.data_dir / "files").rglob(body["id"]))
    assert len(stored) == 1 and stored[0].read_bytes() == data
    fetched = await client.get(f"/v1/files/{body['id']}", headers=tenant.headers)
    assert fetched.status_code == 200 and fetched.json() == body


async def test_extension_is_not_trusted(client, tenant):
    csv_bytes = b"Label,Question,Type,Options\nQ1,Do you like tea?,Single,Yes;No\n"
    response = await upload(client, tenant, "really-a-csv.xlsx", csv_bytes)
    assert response.status_code == 201, response.text
    assert response.json()["mime_type"] == "text/csv"
    pdf_named_txt = await upload(client, tenant, "notes.txt", (QUESTIONNAIRES / "b2b-brand-tracker.pdf").read_bytes())
    assert pdf_named_txt.json()["mime_type"] == "application/pdf"


async def test_unsupported_binary_is_415(client, tenant):
    png = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(256)) * 4
    response = await upload(client, tenant, "scan.docx", png)
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"


async def test_empty_file_is_422(client, tenant):
    response = await upload(client, tenant, "empty.txt", b"")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "file"]


async def test_30_mb_upload_is_413(client, tenant):
    response = await upload(client, tenant, "big.txt", b"a" * (30 * 1024 * 1024))
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"


async def test_zip_bomb_docx_is_refused(client, tenant):
    bomb = make_zip_bomb_docx(80)
    assert len(bomb) < 1024 * 1024
    response = await upload(client, tenant, "bomb.docx", bomb)
    assert response.status_code == 422, response.text
    assert "unpacks" in response.json()["detail"][0]["msg"] or "ratio" in response.json()["detail"][0]["msg"]


async def test_files_are_isolated_per_workspace(client, tenant, other_tenant):
    created = await upload(client, tenant, "q.txt", b"Q1. Do you like tea?\nYes\nNo\n")
    other = await client.get(f"/v1/files/{created.json()['id']}", headers=other_tenant.headers)
    assert other.status_code == 404 and other.json()["code"] == "not_found"


async def test_survey_id_must_belong_to_workspace(client, tenant, other_tenant):
    foreign = await client.post("/v1/surveys", headers=other_tenant.headers, json={"name": "Theirs"})
    response = await upload(client, tenant, "q.txt", b"Q1. Tea?\nYes\nNo\n", survey_id=foreign.json()["id"])
    assert response.status_code == 404
    mine = await client.post("/v1/surveys", headers=tenant.headers, json={"name": "Mine"})
    response = await upload(client, tenant, "q.txt", b"Q1. Tea?\nYes\nNo\n", survey_id=mine.json()["id"])
    assert response.status_code == 201 and response.json()["survey_id"] == mine.json()["id"]


async def test_surveys_scope_required(app, client, tenant):
    raw = await add_key(app.state.db, tenant.workspace_id, ["interviews"])
    response = await client.post("/v1/files", headers={"X-API-Key": raw}, files={"file": ("a.txt", b"x", "text/plain")})
    assert response.status_code == 403 and response.json()["code"] == "insufficient_scope"
    response = await client.get("/v1/surveys", headers={"X-API-Key": raw})
    assert response.status_code == 403
