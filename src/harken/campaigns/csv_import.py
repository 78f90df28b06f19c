"""Parsing contact CSV files: encodings, delimiters, header aliases, line-numbered row errors.

`parse_contacts_csv(data)` returns the valid rows (with their line numbers) and one error string
per rejected row; every non-blank data row ends up in exactly one of the two lists. A file that is
not text (a PDF, a spreadsheet, an image) is refused as a whole with a clear message.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from pydantic import ValidationError

from harken.campaigns.schemas import ContactCreate, canonical_contact_key
from harken.core.errors import MalformedRequest, UnprocessableEntity

_BINARY_SIGNATURES = {
    b"%PDF": "a PDF document",
    b"PK\x03\x04": "a ZIP archive or an Excel/Word file (export it as CSV first)",
    b"\xd0\xcf\x11\xe0": "a legacy Office document (export it as CSV first)",
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
}
_FIELD_LABELS = {
    "name": "name",
    "email": "email",
    "seniority_level": "seniority_level",
    "phone": "phone",
    "job_title": "job_title",
    "department": "department",
}


@dataclass
class ParsedRow:
    line: int
    contact: ContactCreate


@dataclass
class ParsedCsv:
    rows: list[ParsedRow] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    data_rows: int = 0
    encoding: str = "utf-8"
    delimiter: str = ","


def decode_text(data: bytes, *, what: str = "file") -> tuple[str, str]:
    """UTF-8 (with or without BOM), UTF-16 with BOM, else Windows-1252; binaries are refused."""
    head = data[:8]
    for signature, kind in _BINARY_SIGNATURES.items():
        if head.startswith(signature):
            raise MalformedRequest(f"The uploaded {what} is {kind}, not a text file")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError as exc:
            raise MalformedRequest(f"The uploaded {what} is not valid UTF-16 text") from exc
    sample = data[:65536]
    if b"\x00" in sample:
        raise MalformedRequest(f"The uploaded {what} looks binary (it contains NUL bytes), not a text file")
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    controls = sum(1 for ch in text[:65536] if ord(ch) < 32 and ch not in "\r\n\t")
    if controls > max(8, len(text[:65536]) // 100):
        raise MalformedRequest(f"The uploaded {what} looks binary, not a text file in UTF-8 or Windows-1252")
    return text, "cp1252"


def _sniff_delimiter(header_line: str) -> str:
    candidates = {delim: header_line.count(delim) for delim in (",", ";", "\t", "|")}
    best = max(candidates, key=lambda d: candidates[d])
    return best if candidates[best] > 0 else ","


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line
    return ""


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
        msg = err.get("msg", "invalid")
        if err.get("type") == "missing" and loc == "name":
            parts.append("missing name")
        else:
            parts.append(f"{_FIELD_LABELS.get(loc, loc) or 'row'}: {msg}" if loc else msg)
    return "; ".join(parts)


def parse_contacts_csv(data: bytes) -> ParsedCsv:
    text, encoding = decode_text(data, what="CSV file")
    header_line = _first_line(text)
    if not header_line:
        raise UnprocessableEntity("The CSV file is empty: it needs a header row and at least one contact")
    delimiter = _sniff_delimiter(header_line)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    result = ParsedCsv(encoding=encoding, delimiter=delimiter)
    header: list[str | None] | None = None
    previous_line = 0
    try:
        for record in reader:
            line, previous_line = previous_line + 1, reader.line_num  # a quoted field may span lines
            if not any(cell.strip() for cell in record):
                continue  # blank line
            if header is None:
                header = [canonical_contact_key(cell) for cell in record]
                if "name" not in header and not {"first_name", "last_name"} & set(h for h in header if h):
                    raise UnprocessableEntity(
                        "The CSV header has no name column (expected e.g. 'name', 'Full name' or 'First name')"
                    )
                continue
            result.data_rows += 1
            if len(record) > len(header) and any(cell.strip() for cell in record[len(header) :]):
                result.errors.append(f"line {line}: {len(record)} fields but the header has {len(header)}")
                continue
            raw: dict[str, str] = {}
            for key, cell in zip(header, record, strict=False):
                if key is not None and cell.strip() and key not in raw:
                    raw[key] = cell.strip()
            try:
                result.rows.append(ParsedRow(line, ContactCreate.model_validate(raw)))
            except ValidationError as exc:
                result.errors.append(f"line {line}: {_describe(exc)}")
    except csv.Error as exc:
        raise MalformedRequest(f"The CSV file could not be parsed near line {reader.line_num}: {exc}") from exc
    if header is None:
        raise UnprocessableEntity("The CSV file is empty: it needs a header row and at least one contact")
    return result
