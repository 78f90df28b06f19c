"""Uploaded questionnaire files: content sniffing (never the extension alone) and storage."""

from __future__ import annotations

import csv
import hashlib
import io
import os
import re
import zipfile
from pathlib import Path

from harken.surveys.parsing.extract import CSV, DOCX, MARKDOWN, PDF, TEXT, XLSX

ALLOWED = {DOCX, XLSX, PDF, CSV, MARKDOWN, TEXT}


class UnsupportedFile(ValueError):
    pass


def sniff(data: bytes, filename: str = "") -> str:
    """The file's real type from its bytes: PDF magic, the zip's members, or text heuristics."""
    ext = Path(filename or "").suffix.lower()
    if data.startswith(b"%PDF-"):
        return PDF
    if data.startswith(b"PK\x03\x04"):
        try:
            names = set(zipfile.ZipFile(io.BytesIO(data)).namelist())
        except (zipfile.BadZipFile, OSError, ValueError) as exc:
            raise UnsupportedFile("The file looks like a zip archive but cannot be opened") from exc
        if "word/document.xml" in names:
            return DOCX
        if "xl/workbook.xml" in names:
            return XLSX
        raise UnsupportedFile("Zip archives other than .docx and .xlsx are not supported")
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise UnsupportedFile("Legacy binary Office files (.doc, .xls) are not supported; save as .docx or .xlsx")
    text = _as_text(data)
    if text is None:
        raise UnsupportedFile("Unsupported file type: expected docx, pdf, txt, md, xlsx or csv")
    if ext == ".csv" or (ext in (".xlsx", ".xls", "") and _looks_csv(text)):
        return CSV
    if ext in (".md", ".markdown") or re.search(r"(?m)^#{1,6} \S|^\|.*\|\s*$\n^\|\s*:?-{3,}", text):
        return MARKDOWN
    if ext in (".xlsx", ".xls") and _looks_csv(text, strict=False):
        return CSV
    return TEXT


def _as_text(data: bytes) -> str | None:
    head = data[:65536]
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            return None
    if b"\x00" in head:
        return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    controls = sum(1 for b in head if b < 9 or 13 < b < 32)
    if controls > len(head) * 0.01:
        return None
    return data.decode("cp1252", errors="replace")


def _looks_csv(text: str, *, strict: bool = True) -> bool:
    lines = [ln for ln in text.splitlines()[:50] if ln.strip()]
    if len(lines) < 2:
        return not strict and bool(lines) and ("," in lines[0] or ";" in lines[0])
    try:
        dialect = csv.Sniffer().sniff("\n".join(lines[:20]), delimiters=",;\t")
    except csv.Error:
        return False
    widths = [len(row) for row in csv.reader(io.StringIO("\n".join(lines)), dialect)]
    return min(widths) >= 2 and (max(widths) == min(widths) or not strict)


def checksum(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def store(data_dir: Path, workspace_id: str, file_id: str, data: bytes) -> str:
    """Write the bytes atomically under `<data_dir>/files/<workspace>/<id>`; returns the relative path."""
    relative = Path("files") / workspace_id / file_id
    target = Path(data_dir) / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".part")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, target)
    return str(relative)


def load(data_dir: Path, relative: str) -> bytes:
    return (Path(data_dir) / relative).read_bytes()
