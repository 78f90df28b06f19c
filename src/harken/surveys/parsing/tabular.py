"""Questionnaires kept as a spreadsheet: one row per question under a header row."""

from __future__ import annotations

import re

from harken.surveys.parsing import text_rules as tr
from harken.surveys.parsing.extract import Document
from harken.surveys.parsing.model import Question, Questionnaire
from harken.surveys.parsing.programmer import _Note, finalize, resolve_routing

COLUMNS = {
    "label": re.compile(r"^(label|id|q\s*#|q\s*no\.?|no\.?|number|ref|variable|var|name|question (id|label|no\.?))$"),
    "text": re.compile(r"^(question( text| wording)?|wording|text|item|prompt)$"),
    "type": re.compile(r"^((question |response |answer )?type|format|kind)$"),
    "options": re.compile(r"^(options?|answers?|answer (options|list|codes)|choices|responses?|codes?|scale|values)\b"),
    "logic": re.compile(
        r"^(logic|routing|condition|skip|filter|show if|base|notes?|instructions?|programming( notes)?)\b"
    ),
}


def _header(cells: list[str]) -> dict[str, int] | None:
    found: dict[str, int] = {}
    for i, cell in enumerate(cells):
        key = cell.strip().lower()
        for name, pattern in COLUMNS.items():
            if name not in found and pattern.search(key):
                found[name] = i
                break
    if "text" in found and len(found) >= 2:
        return found
    return None


def program_sheets(doc: Document) -> Questionnaire | None:
    for rows in doc.sheets or []:
        for h, cells in enumerate(rows[:30]):
            columns = _header(cells)
            if columns:
                return _program_rows(rows[h + 1 :], columns, doc.title)
    return None


def _get(cells: list[str], columns: dict[str, int], key: str) -> str:
    i = columns.get(key)
    return cells[i].strip() if i is not None and i < len(cells) and cells[i] else ""


def _program_rows(rows: list[list[str]], columns: dict[str, int], title: str | None) -> Questionnaire:
    questions: list[Question] = []
    notes: list[_Note] = []
    seen: set[str] = set()
    for cells in rows:
        text = _get(cells, columns, "text")
        if not text:
            continue
        label = _get(cells, columns, "label") or f"Q{len(questions) + 1}"
        label = re.sub(r"[.:)]+$", "", label.strip())
        if label in seen:
            label = f"{label}_{len(questions) + 1}"
        seen.add(label)
        kind_text = _get(cells, columns, "type")
        options_text = _get(cells, columns, "options")
        logic = _get(cells, columns, "logic")
        q = Question(label=label, text=re.sub(r"\s+", " ", text))
        kind = tr.classify(kind_text) if kind_text else None
        if kind_text:
            q.instructions.append(kind_text)
        if kind == "text" or (kind is None and tr.TEXT_LABEL.match(label) and "?" not in text):
            q.kind, q.explicit_kind = "text", True
        elif kind in ("numeric", "scale", "open"):
            if options_text:
                q.instructions.append(options_text)
                for part in re.split(r"\s*[;\n]\s*", options_text):
                    anchor = tr.ANCHOR.match(part)
                    if anchor:
                        q.anchors[anchor.group("code")] = anchor.group("label")
        else:
            _parse_options(q, options_text)
        if logic:
            for sentence in re.split(r"(?<=[.;])\s+", logic):
                if tr.is_routing(sentence):
                    notes.append(_Note(sentence, label, len(questions), explicit_target=label))
                    if tr.show_if_phrase(sentence):
                        continue
                q.instructions.append(sentence)
        questions.append(q)
    for q in questions:
        finalize(q)
    skips = resolve_routing(questions, notes)
    return Questionnaire(title=title, questions=questions, skips=skips)


def _parse_options(q: Question, text: str) -> None:
    if not text:
        return
    target = q.options
    for line in text.split("\n"):
        line = line.strip()
        axis = re.match(r"^(rows?|statements?|items?|columns?|cols?|scale)\s*[:=]\s*(.*)$", line, re.I)
        if axis:
            target = q.rows if axis.group(1).lower().startswith(("row", "statement", "item")) else q.columns
            line = axis.group(2)
        parts = [p.strip() for p in re.split(r"\s*;\s*|\s+\|\s+", line) if p.strip()]
        if len(parts) == 1 and " / " in line and line.count(" / ") >= 2:
            parts = [p.strip() for p in line.split(" / ")]
        for part in parts:
            coded = tr.parse_coded(part)
            option = coded or tr.make_option(part, None)
            if option:
                target.append(option)
