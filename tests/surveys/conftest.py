"""Fixtures of the survey tests: a real job worker, the labelled questionnaires, document builders."""

from __future__ import annotations

import asyncio
import io
import json
import zlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from harken.core.jobs import Worker
from harken.webhooks.models import Event
from tests.helpers import SHARED, wait_for

QUESTIONNAIRES = SHARED / "data" / "questionnaires"
SEED = SHARED / "seeds" / "002_d657a598c2f14523.txt"
MIME = {
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".pdf": "application/pdf",
    ".txt": "text/plain",
    ".md": "text/markdown",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".csv": "text/csv",
}


@pytest.fixture
async def worker(app: Any) -> AsyncIterator[Worker]:
    """A real job worker on the test database, running while the test runs."""
    instance = Worker(app.state.db, app.state.settings, concurrency=2)
    task = asyncio.create_task(instance.run())
    yield instance
    instance.stop()
    await asyncio.wait_for(task, timeout=30)


def seed_payloads() -> dict[str, dict[str, Any]]:
    """event type -> `data` of the seed's example payloads."""
    text = SEED.read_text()
    out: dict[str, dict[str, Any]] = {}
    decoder = json.JSONDecoder()
    index = 0
    while (start := text.find('{\n  "event"', index)) != -1:
        obj, end = decoder.raw_decode(text[start:])
        out[obj["event"]] = obj["data"]
        index = start + end
    return out


async def events(app: Any, workspace_id: str, event_type: str | None = None) -> list[Event]:
    async with app.state.db.read_sessionmaker() as session:
        query = select(Event).where(Event.workspace_id == workspace_id).order_by(Event.created_at)
        if event_type:
            query = query.where(Event.type == event_type)
        return list((await session.execute(query)).scalars())


async def upload(client: Any, tenant: Any, name: str, data: bytes, mime: str | None = None, **fields: str) -> Any:
    files = {"file": (name, data, mime or MIME.get(Path(name).suffix, "application/octet-stream"))}
    return await client.post("/v1/files", headers=tenant.headers, files=files, data=fields or None)


async def wait_programmed(client: Any, tenant: Any, survey_id: str, timeout: float = 30) -> dict[str, Any]:
    async def done() -> dict[str, Any] | None:
        body = (await client.get(f"/v1/surveys/{survey_id}", headers=tenant.headers)).json()
        return body if body["programming_status"] in ("completed", "failed", "cancelled") else None

    return await wait_for(done, timeout=timeout, interval=0.05)


async def program_file(client: Any, tenant: Any, name: str, data: bytes) -> tuple[dict[str, Any], dict[str, Any]]:
    file = await upload(client, tenant, name, data)
    assert file.status_code == 201, file.text
    survey = await client.post("/v1/surveys", headers=tenant.headers, json={"name": f"Survey {name}"})
    assert survey.status_code == 201, survey.text
    started = await client.post(
        f"/v1/surveys/{survey.json()['id']}/program-from-file/{file.json()['id']}", headers=tenant.headers
    )
    assert started.status_code == 202, started.text
    return await wait_programmed(client, tenant, survey.json()["id"]), started.json()


# --- document builders --------------------------------------------------------------------------------


def make_pdf(lines: list[str], *, encrypt: str | None = None) -> bytes:
    """A real text PDF (Helvetica, one line per row), optionally password-protected."""
    import pypdf

    def esc(s: str) -> str:
        return s.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    stream = "BT /F1 10 Tf 50 800 Td 12 TL\n" + "\n".join(f"({esc(line)}) '" for line in lines) + "\nET"
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        "/Resources << /Font << /F1 5 0 R >> >> >>",
        f"<< /Length {len(stream.encode('latin-1'))} >>\nstream\n{stream}\nendstream",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(f"{i} 0 obj\n{body}\nendobj\n".encode("latin-1"))
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    for offset in offsets:
        out.write(f"{offset:010d} 00000 n \n".encode())
    out.write(f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode())
    data = out.getvalue()
    if encrypt:
        reader = pypdf.PdfReader(io.BytesIO(data))
        writer = pypdf.PdfWriter()
        for page in reader.pages:
            writer.add_page(page)
        writer.encrypt(user_password=encrypt, owner_password=encrypt + "-owner")
        buffer = io.BytesIO()
        writer.write(buffer)
        data = buffer.getvalue()
    return data


def make_image_pdf() -> bytes:
    """A scanned-style PDF: one page that only paints an image (no text layer)."""
    pixels = zlib.compress(bytes([200, 200, 200]) * 64 * 64)
    stream = "q 500 0 0 700 40 60 cm /Im1 Do Q"
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        "/Resources << /XObject << /Im1 5 0 R >> >> >>",
        f"<< /Length {len(stream)} >>\nstream\n{stream}\nendstream",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(f"{i} 0 obj\n{body}\nendobj\n".encode("latin-1"))
    offsets.append(out.tell())
    out.write(
        f"5 0 obj\n<< /Type /XObject /Subtype /Image /Width 64 /Height 64 /ColorSpace /DeviceRGB "
        f"/BitsPerComponent 8 /Filter /FlateDecode /Length {len(pixels)} >>\nstream\n".encode()
        + pixels
        + b"\nendstream\nendobj\n"
    )
    xref = out.tell()
    out.write(b"xref\n0 6\n0000000000 65535 f \n")
    for offset in offsets:
        out.write(f"{offset:010d} 00000 n \n".encode())
    out.write(f"trailer\n<< /Size 6 /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode())
    return out.getvalue()


def make_docx(paragraphs: list[tuple[str, str]]) -> bytes:
    """A Word document from (style, text) pairs."""
    import docx

    document = docx.Document()
    for style, text in paragraphs:
        document.add_paragraph(text, style=style)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def make_zip_bomb_docx(unpacked_mb: int = 80) -> bytes:
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", b"\0" * (unpacked_mb * 1024 * 1024))
    return buffer.getvalue()
