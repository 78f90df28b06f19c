"""Turn a questionnaire file into a stream of structural elements (lines and tables).

Each format keeps the structure the programmer needs: Word headings, list numbering and tables
(python-docx), PDF text with repeated page headers removed (pypdf), Markdown headings, lists,
block quotes and tables (markdown-it-py), spreadsheet rows (openpyxl / csv) and plain text.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

MAX_UNCOMPRESSED_BYTES = 64 * 1024 * 1024
MAX_MEMBER_BYTES = 48 * 1024 * 1024
MAX_COMPRESSION_RATIO = 200
MAX_ROWS = 20_000

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PDF = "application/pdf"
CSV = "text/csv"
MARKDOWN = "text/markdown"
TEXT = "text/plain"


class DocumentError(ValueError):
    """The document cannot be read (encrypted, no text layer, corrupt, too large when unpacked)."""


@dataclass
class Line:
    text: str
    heading: bool = False
    quote: bool = False
    list_item: bool = False


@dataclass
class Table:
    rows: list[list[str]]


Element = Line | Table


@dataclass
class Document:
    elements: list[Element] = field(default_factory=list)
    title: str | None = None
    # Spreadsheet/CSV rows (every sheet), when the source is tabular.
    sheets: list[list[list[str]]] | None = None

    def text(self) -> str:
        out: list[str] = []
        for el in self.elements:
            if isinstance(el, Line):
                out.append(el.text)
            else:
                out.extend("\t".join(r) for r in el.rows)
        for sheet in self.sheets or []:
            out.extend("\t".join(r) for r in sheet)
        return "\n".join(out)


def _clean(text: str) -> str:
    text = text.replace("\u00a0", " ").replace("\u200b", "").replace("\r", "")
    return text.rstrip()


def check_zip(data: bytes) -> zipfile.ZipFile:
    """Open a zip container, refusing archives whose unpacked size or ratio looks like a bomb."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise DocumentError("The file is not a valid Office document (corrupt zip container)") from exc
    total = 0
    for info in infos:
        total += info.file_size
        if info.file_size > MAX_MEMBER_BYTES or total > MAX_UNCOMPRESSED_BYTES:
            raise DocumentError(
                f"The document unpacks to more than {MAX_UNCOMPRESSED_BYTES // (1024 * 1024)} MB; refusing to open it"
            )
        if info.compress_size and info.file_size / info.compress_size > MAX_COMPRESSION_RATIO and info.file_size > 1e6:
            raise DocumentError("The document's compression ratio is implausible (zip bomb?); refusing to open it")
    return archive


def extract(data: bytes, mime_type: str) -> Document:
    if not data.strip():
        raise DocumentError("The document is empty")
    if mime_type == DOCX:
        return _docx(data)
    if mime_type == PDF:
        return _pdf(data)
    if mime_type == XLSX:
        return _xlsx(data)
    if mime_type == CSV:
        return _csv(decode_text(data))
    if mime_type == MARKDOWN:
        return _markdown(decode_text(data))
    return _text(decode_text(data))


def decode_text(data: bytes) -> str:
    for encoding in ("utf-8-sig", "utf-16") if data[:2] in (b"\xff\xfe", b"\xfe\xff") else ("utf-8-sig",):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("cp1252", errors="replace")


# --- Word -------------------------------------------------------------------------------------


def _docx(data: bytes) -> Document:
    import docx
    from docx.oxml.ns import qn
    from docx.table import Table as DocxTable
    from docx.text.paragraph import Paragraph

    check_zip(data)
    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:
        raise DocumentError(f"The Word document cannot be read: {type(exc).__name__}") from exc
    from docx.enum.style import WD_STYLE_TYPE

    numbering = _docx_numbering(document, qn)
    counters: dict[str, list[int]] = {}
    # paragraph.style searches the styles part on every call: index the styles once instead.
    styles = {s.style_id: s for s in document.styles if s.type == WD_STYLE_TYPE.PARAGRAPH}
    default_style = document.styles.default(WD_STYLE_TYPE.PARAGRAPH)
    out = Document()
    for child in document.element.body.iterchildren():
        tag = child.tag.rsplit("}", 1)[-1]
        if tag == "p":
            paragraph = Paragraph(child, document)
            ppr = child.pPr
            style_id = ppr.pStyle.val if ppr is not None and ppr.pStyle is not None else None
            style_obj = styles.get(style_id, default_style) if style_id else default_style
            style = style_obj.name if style_obj is not None else ""
            text = _clean(paragraph.text)
            prefix, is_list = _docx_list_prefix(paragraph, style_obj, numbering, counters, qn)
            if style == "Title" and text and out.title is None:
                out.title = text.strip()
            heading = style.startswith("Heading") or style == "Title"
            if not text.strip():
                out.elements.append(Line(""))
                continue
            for i, part in enumerate(text.split("\n")):
                part_text = (prefix + part.strip()) if i == 0 and prefix else part
                out.elements.append(Line(part_text, heading=heading, list_item=is_list and i == 0))
        elif tag == "tbl":
            table = DocxTable(child, document)
            rows: list[list[str]] = []
            for row in table.rows:
                cells: list[str] = []
                for cell in row.cells:
                    cells.append(_clean(cell.text).strip())
                rows.append(cells)
            if rows:
                out.elements.append(Table(rows))
    return out


def _docx_numbering(document: Any, qn: Any) -> dict[str, dict[int, tuple[str, int]]]:
    """numId -> {ilvl: (numFmt, start)} from the numbering part."""
    try:
        root = document.part.numbering_part.element
    except Exception:
        return {}
    abstract: dict[str, dict[int, tuple[str, int]]] = {}
    for node in root.findall(qn("w:abstractNum")):
        levels: dict[int, tuple[str, int]] = {}
        for lvl in node.findall(qn("w:lvl")):
            fmt = lvl.find(qn("w:numFmt"))
            start = lvl.find(qn("w:start"))
            levels[int(lvl.get(qn("w:ilvl"), "0"))] = (
                fmt.get(qn("w:val")) if fmt is not None else "decimal",
                int(start.get(qn("w:val"))) if start is not None else 1,
            )
        abstract[node.get(qn("w:abstractNumId"))] = levels
    result: dict[str, dict[int, tuple[str, int]]] = {}
    for num in root.findall(qn("w:num")):
        ref = num.find(qn("w:abstractNumId"))
        if ref is not None:
            result[num.get(qn("w:numId"))] = abstract.get(ref.get(qn("w:val")), {})
    return result


def _docx_list_prefix(
    paragraph: Any,
    paragraph_style: Any,
    numbering: dict[str, dict[int, tuple[str, int]]],
    counters: dict[str, list[int]],
    qn: Any,
) -> tuple[str, bool]:
    """The visible list marker Word would render for this paragraph ("3. ", "b) ", "- ")."""
    num_pr = None
    ppr = paragraph._p.pPr
    if ppr is not None:
        num_pr = ppr.find(qn("w:numPr"))
    style = paragraph_style
    while num_pr is None and style is not None:
        sppr = style.element.pPr
        if sppr is not None:
            num_pr = sppr.find(qn("w:numPr"))
        style = style.base_style
    if num_pr is None:
        name = paragraph_style.name if paragraph_style is not None else ""
        return ("- ", True) if "Bullet" in name else ("", "List" in name)
    num_id_el, ilvl_el = num_pr.find(qn("w:numId")), num_pr.find(qn("w:ilvl"))
    num_id = num_id_el.get(qn("w:val")) if num_id_el is not None else None
    ilvl = int(ilvl_el.get(qn("w:val"))) if ilvl_el is not None else 0
    if not num_id or num_id == "0":
        return "", False
    fmt, start = numbering.get(num_id, {}).get(ilvl, ("decimal", 1))
    levels = counters.setdefault(num_id, [0] * 10)
    ilvl = min(ilvl, 9)
    levels[ilvl] = levels[ilvl] + 1 if levels[ilvl] else start
    for deeper in range(ilvl + 1, 10):
        levels[deeper] = 0
    n = levels[ilvl]
    if fmt == "bullet" or fmt == "none":
        return "- ", True
    if fmt == "lowerLetter":
        return f"{_letters(n)}) ", True
    if fmt == "upperLetter":
        return f"{_letters(n).upper()}) ", True
    if fmt in ("lowerRoman", "upperRoman"):
        roman = _roman(n)
        return f"{roman if fmt == 'upperRoman' else roman.lower()}. ", True
    return f"{n}. ", True


def _letters(n: int) -> str:
    out = ""
    while n > 0:
        n, rem = divmod(n - 1, 26)
        out = chr(97 + rem) + out
    return out or "a"


def _roman(n: int) -> str:
    pairs = [(10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I")]
    out = ""
    for value, sym in pairs:
        while n >= value:
            out += sym
            n -= value
    return out


# --- PDF --------------------------------------------------------------------------------------


_PAGE_NO = re.compile(r"^\s*(page\s*)?\d+(\s*(of|/)\s*\d+)?\s*$", re.I)


def _pdf(data: bytes) -> Document:
    import pypdf
    from pypdf.errors import PdfReadError

    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            try:
                ok = reader.decrypt("")
            except Exception as exc:
                raise DocumentError("The PDF is encrypted; upload an unprotected copy") from exc
            if not ok:
                raise DocumentError("The PDF is encrypted with a password; upload an unprotected copy")
        pages = []
        for page in reader.pages:
            pages.append([_clean(line) for line in (page.extract_text() or "").splitlines()])
    except DocumentError:
        raise
    except (PdfReadError, Exception) as exc:
        raise DocumentError(f"The PDF cannot be read: {type(exc).__name__}") from exc
    if not any(line.strip() for page in pages for line in page):
        raise DocumentError("The PDF has no text layer (scanned image?); OCR is not supported, upload a text PDF")
    # Running headers and footers: short lines repeated at the top or bottom of most pages.
    edge_counts: Counter[str] = Counter()
    for page in pages:
        stripped = [ln.strip() for ln in page if ln.strip()]
        for ln in set(stripped[:3] + stripped[-2:]):
            if sum(c.isalpha() for c in ln) < 3:
                continue
            edge_counts[re.sub(r"\d+", "#", ln)] += 1
    repeated = {k for k, n in edge_counts.items() if len(pages) >= 2 and n >= max(2, len(pages) * 0.7)}
    out = Document()
    for page in pages:
        for line in page:
            key = re.sub(r"\d+", "#", line.strip())
            if key in repeated or (_PAGE_NO.match(line) and line.strip().lower().startswith("page")):
                continue
            out.elements.append(Line(line))
    for el in out.elements[:15]:
        if isinstance(el, Line):
            t = el.text.strip()
            letters = [c for c in t if c.isalpha()]
            if len(t) >= 8 and letters and sum(c.isupper() for c in letters) / len(letters) < 0.7:
                out.title = t
                break
    return out


# --- Markdown ---------------------------------------------------------------------------------


def _markdown(text: str) -> Document:
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark").enable("table")
    tokens = md.parse(text)
    out = Document()
    list_stack: list[list[Any]] = []  # [kind, counter]
    pending_prefix: str | None = None
    quote_depth = 0
    heading = False
    table_rows: list[list[str]] | None = None
    row: list[str] | None = None
    for tok in tokens:
        kind = tok.type
        if kind == "heading_open":
            heading = True
        elif kind == "heading_close":
            heading = False
        elif kind == "blockquote_open":
            quote_depth += 1
        elif kind == "blockquote_close":
            quote_depth -= 1
        elif kind == "bullet_list_open":
            list_stack.append(["bullet", 0])
        elif kind == "ordered_list_open":
            start = int(tok.attrGet("start") or 1)
            list_stack.append(["ordered", start - 1])
        elif kind in ("bullet_list_close", "ordered_list_close"):
            if list_stack:
                list_stack.pop()
            out.elements.append(Line(""))
        elif kind == "list_item_open" and list_stack:
            entry = list_stack[-1]
            if entry[0] == "ordered":
                entry[1] += 1
                pending_prefix = f"{entry[1]}. "
            else:
                pending_prefix = "- "
        elif kind == "table_open":
            table_rows = []
        elif kind == "table_close":
            if table_rows:
                out.elements.append(Table(table_rows))
            table_rows = None
        elif kind == "tr_open":
            row = []
        elif kind == "tr_close":
            if table_rows is not None and row is not None:
                table_rows.append(row)
            row = None
        elif kind == "inline":
            content = _inline_text(tok)
            if row is not None:
                row.append(content.strip())
                continue
            parts = content.split("\n")
            for i, part in enumerate(parts):
                line = part.strip()
                is_item = i == 0 and pending_prefix is not None
                if is_item:
                    line = pending_prefix + line
                out.elements.append(Line(line, heading=heading, quote=quote_depth > 0, list_item=is_item))
                if heading and out.title is None and tok.level <= 1 and line:
                    out.title = line
            pending_prefix = None
        elif kind in ("fence", "code_block"):
            for line in tok.content.splitlines():
                out.elements.append(Line(line))
        elif kind in ("paragraph_close", "hr") and not list_stack:
            out.elements.append(Line(""))
    return out


def _inline_text(tok: Any) -> str:
    parts: list[str] = []
    for child in tok.children or []:
        if child.type in ("text", "code_inline", "html_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append("\n")
        elif child.type == "image":
            parts.append(child.content or "")
    return "".join(parts)


# --- plain text -------------------------------------------------------------------------------


def _text(text: str) -> Document:
    out = Document()
    for raw in text.splitlines():
        line = _clean(raw.expandtabs(8) if "\t" in raw and raw.count("\t") > 3 else raw)
        quote = line.lstrip().startswith(">")
        out.elements.append(Line(line.lstrip()[1:].strip() if quote else line, quote=quote))
    for el in out.elements[:60]:
        if isinstance(el, Line):
            match = re.search(r"\btitle\b[^:]{0,40}:\s*(\S.{3,})$", el.text, re.I)
            if match:
                out.title = match.group(1).strip().strip("\"'")
                break
    if out.title is None:
        first = next((el.text.strip() for el in out.elements if isinstance(el, Line) and el.text.strip()), "")
        if 6 <= len(first) <= 100 and ":" not in first and not re.match(r"^(Q?\d|[A-Z]{1,3}\d)", first):
            out.title = first
    return out


# --- spreadsheets -----------------------------------------------------------------------------


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return _clean(str(value)).strip()


def _xlsx(data: bytes) -> Document:
    import openpyxl

    check_zip(data)
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:
        raise DocumentError(f"The spreadsheet cannot be read: {type(exc).__name__}") from exc
    sheets: list[list[list[str]]] = []
    try:
        total = 0
        for sheet in workbook.worksheets:
            rows: list[list[str]] = []
            for values in sheet.iter_rows(values_only=True):
                total += 1
                if total > MAX_ROWS:
                    raise DocumentError(f"The spreadsheet has more than {MAX_ROWS} rows")
                cells = [_cell(v) for v in values]
                while cells and not cells[-1]:
                    cells.pop()
                rows.append(cells)
            sheets.append(rows)
    finally:
        workbook.close()
    return _tabular(sheets)


def _csv(text: str) -> Document:
    sample = text[:4096]
    try:
        dialect: Any = csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    rows = []
    for i, values in enumerate(csv.reader(io.StringIO(text), dialect)):
        if i >= MAX_ROWS:
            raise DocumentError(f"The CSV has more than {MAX_ROWS} rows")
        cells = [_clean(v).strip() for v in values]
        while cells and not cells[-1]:
            cells.pop()
        rows.append(cells)
    return _tabular([rows])


def _tabular(sheets: list[list[list[str]]]) -> Document:
    out = Document(sheets=sheets)
    for rows in sheets:
        for cells in rows:
            out.elements.append(Line("\t".join(c for c in cells if c)))
        out.elements.append(Line(""))
    for rows in sheets[:1]:
        for cells in rows[:5]:
            non_empty = [c for c in cells if c]
            if len(non_empty) == 1 and len(non_empty[0]) >= 6:
                out.title = non_empty[0]
                break
    return out
