"""The offline programmer: a questionnaire document's elements -> questions, options, grids, routing.

Walks the document once. A labelled line ("Q3.", "S1)", "Question 7:", "12.") opens a question;
the lines after it are its wording, its answers (coded, bulleted, inline, tables), its programmer
instructions ([SINGLE], GRID, RANDOMISE ...) and routing notes ("ASK IF Q2 = 1", "If No, skip to
Q7", "TERMINATE"). Routing is resolved once every question is known.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from harken.surveys.parsing import text_rules as tr
from harken.surveys.parsing.extract import Document, Line, Table
from harken.surveys.parsing.model import Condition, Option, Question, Questionnaire, SkipRule


@dataclass
class _Note:
    text: str
    context: str | None  # label of the question whose region holds the note
    next_index: int  # index the next question will get
    explicit_target: str | None = None


class _Walker:
    def __init__(self) -> None:
        self.questions: list[Question] = []
        self.notes: list[_Note] = []
        self.current: Question | None = None
        self.text_open = False  # question wording may continue on the next line
        self.target = "options"  # where answers go: options | rows | columns
        self.blank_since_answers = False
        self.body_started = False
        self.text_block = False
        self.text_block_needs_body = False
        self.last_number = 0
        self.labels: set[str] = set()

    # -- opening items ---------------------------------------------------------------------------

    def open_question(self, label: str, text: str, *, is_text: bool = False) -> None:
        label = self._unique(label)
        question = Question(label=label, text="")
        instructions: list[str] = []
        text = self._pull_instructions(text, instructions)
        if re.fullmatch(r"\([^()]*\)|\[[^\]]*\]", text):
            # "INTRO (show to respondent)": the note is for the programmer, the wording follows.
            instructions.append(text[1:-1])
            text = ""
        question.text = text
        question.instructions.extend(instructions)
        if is_text:
            question.kind = "text"
            question.explicit_kind = True
        self.questions.append(question)
        self.labels.add(label)
        self.current = question
        self.text_open = (bool(text) and not re.search(r"[?:]\s*$|\.\s*$|\)\s*$", text)) or (not text and not is_text)
        self.text_block = is_text
        self.text_block_needs_body = is_text and not text
        self.target = "options"
        self.blank_since_answers = False
        self.body_started = False
        match = re.search(r"(\d+)", label)
        if match and not is_text:
            self.last_number = int(match.group(1))

    def _unique(self, label: str) -> str:
        if label not in self.labels:
            return label
        n = 2
        while f"{label}_{n}" in self.labels:
            n += 1
        return f"{label}_{n}"

    @staticmethod
    def _pull_instructions(text: str, sink: list[str]) -> str:
        """Move bracketed and parenthesized programmer notes out of question wording."""

        def take(match: re.Match[str]) -> str:
            inner = match.group(0)
            body = inner[1:-1]
            if tr.classify(body) or tr.is_routing(body) or tr.letters_upper_ratio(body)[1] >= 0.85:
                sink.append(body.strip())
                return " "
            return inner

        # "How much ...? RANGE 0-500": a CAPITALS note after the question mark
        tail = re.match(r"^(?P<q>.*\?)\s+(?P<note>[^?]{4,})$", text.strip())
        if (
            tail
            and tr.letters_upper_ratio(tail.group("note"))[1] >= 0.85
            and tr.letters_upper_ratio(tail.group("note"))[0] >= 4
        ):
            sink.append(tail.group("note").strip())
            text = tail.group("q")
        text = re.sub(r"\[[^\]]*\]\s*$", take, text.strip())
        text = re.sub(r"\([^()]*\)\s*$", take, text.strip())
        text = re.sub(r"`\[[^\]]*\]`", take, text)
        return re.sub(r"\s+", " ", tr.strip_emphasis(text)).strip()

    # -- walking ---------------------------------------------------------------------------------

    def feed(self, elements: list[Line | Table]) -> None:
        i = 0
        while i < len(elements):
            el = elements[i]
            if isinstance(el, Table):
                self.table(el)
                i += 1
                continue
            consumed = self.line(el, elements, i)
            i += max(1, consumed)

    def line(self, el: Line, elements: list[Line | Table], i: int) -> int:
        raw = el.text
        text = tr.strip_emphasis(raw.strip())
        if not text:
            if self.current is not None:
                if self.current.options or self.current.rows or self.current.columns or self.body_started:
                    self.blank_since_answers = True
                self.text_open = False
                if self.text_block and not self.text_block_needs_body:
                    self.current = None if not self.current.options else self.current
                    self.text_block = False
            return 1
        if el.heading or (tr.HEADING_LIKE.match(text) and len(text) < 90):
            self.close_region()
            return 1
        # Text cue: "Intro text for the first page:" followed by the wording.
        cue = tr.TEXT_CUE.match(text)
        if cue and not tr.LABEL_LINE.match(text):
            what = cue.group("what").lower()
            label = "INTRO" if what.startswith(("intro", "welcome", "opening")) else "END"
            rest = cue.group("rest").strip().strip("\"'\u201c\u201d")
            self.open_question(label, rest, is_text=True)
            return 1
        opened = self.try_open(text, el, elements, i)
        if opened:
            return opened
        if self.current is None:
            if tr.is_routing(text) or tr.is_instruction(text):
                self.notes.append(_Note(text, None, len(self.questions)))
            return 1
        return self.body_line(text, el, elements, i)

    def try_open(self, text: str, el: Line, elements: list[Line | Table], i: int) -> int:
        match = tr.LABEL_LINE.match(text)
        if match:
            label, body = match.group("label"), match.group("text").strip()
            is_text = bool(tr.TEXT_LABEL.match(label.split(".")[0])) and "?" not in body
            if tr.TEXT_LABEL.match(label) and label.startswith("T") and label[1:].isdigit() and "?" in body:
                is_text = False
            if not self._plausible_question(label, body, is_text):
                return 0
            self.open_question(label, body, is_text=is_text)
            return 1
        match = tr.TEXT_LABEL_LINE.match(text)
        if match and "?" not in match.group("text"):
            self.open_question(match.group("label"), match.group("text").strip(), is_text=True)
            return 1
        match = tr.QUESTION_WORD_LINE.match(text)
        if match:
            self.open_question(f"Q{match.group('num')}", match.group("text"))
            return 1
        match = tr.NUMBERED_LINE.match(text)
        if match and not el.quote:
            num, body = int(match.group("num")), match.group("text").strip()
            if num == self.last_number + 1 and self._looks_like_question(body):
                self.open_question(f"Q{num}", body)
                return 1
        match = tr.LABEL_ALONE.match(text)
        if match:
            label = match.group("label")
            if tr.TEXT_LABEL.match(label) or (tr.QUESTION_LABEL.match(label) and re.search(r"\d", label)):
                is_text = bool(tr.TEXT_LABEL.match(label))
                self.open_question(label, "", is_text=is_text)
                if not is_text:
                    self.text_open = True
                else:
                    self.text_block_needs_body = True
                return 1
        match = tr.TEXT_LABEL.match(text.rstrip(".:"))
        if match and text.isupper() and text.rstrip(".:") in ("INTRO", "INTRODUCTION", "CLOSE", "END"):
            self.open_question(text.rstrip(".:"), "", is_text=True)
            return 1
        return 0

    @staticmethod
    def _plausible_question(label: str, body: str, is_text: bool) -> bool:
        if is_text:
            return True
        if len(body) < 3:
            return False
        # "B2B buyers", "A4 paper": labels are followed by wording, not a lower-case continuation
        return bool(re.match(r"[\"'\u201c(\[A-Z0-9\u00bf\u00a1]", body)) or "?" in body

    @staticmethod
    def _looks_like_question(body: str) -> bool:
        if "?" in body or body.rstrip().endswith(":"):
            return True
        return (
            bool(
                re.match(
                    r"(please|rate|rank|select|tell|indicate|describe|enter|type|list|thinking|overall|how|what|which|"
                    r"who|when|where|why|do|does|did|are|is|have|would|could|in which)\b",
                    body,
                    re.I,
                )
            )
            and len(body) > 25
        )

    def close_region(self) -> None:
        self.current = None
        self.text_open = False
        self.text_block = False

    def body_line(self, text: str, el: Line, elements: list[Line | Table], i: int) -> int:
        q = self.current
        assert q is not None
        # Text blocks collect wording only.
        if self.text_block:
            if tr.is_instruction(text) or tr.is_routing(text):
                if q.text:
                    self.text_block = False
                    self.current = None
                return 1
            if self.text_block_needs_body or self.text_open or (el.quote and q.text):
                q.text = (q.text + " " + text.strip('"\u201c\u201d')).strip()
                self.text_block_needs_body = False
                self.text_open = True
                return 1
            return 1
        # Grid axis markers ("ROWS:", "COLUMNS:", "scale: a / b / c").
        axis = re.match(
            r"^(rows?|statements?|items?|columns?|cols?|scale|answer scale|answers?)\s*[:=]\s*(.*)$", text, re.I
        )
        if axis and not tr.CODE_ALONE.match(text):
            word = axis.group(1).lower()
            target = "rows" if word.startswith(("row", "statement", "item")) else "columns"
            rest = axis.group(2).strip()
            parts = tr.split_list(rest) if rest else None
            if word.startswith("answer") and not parts and rest:
                return 1
            self.target = target
            self.body_started = True
            if parts:
                self.add_options([o for p in parts if (o := tr.make_option(p, None))], target=target)
            return 1
        # Marker lines that belong to the previous answer.
        marker = text.strip().upper().strip("[]()*")
        if marker in ("TERMINATE", "EXCLUSIVE", "SCREEN OUT", "ANCHOR", "FIXED", "OPEN", "SPECIFY"):
            last = self._last_answer()
            if last is not None:
                if marker in ("TERMINATE", "SCREEN OUT"):
                    last.terminate = True
                elif marker == "EXCLUSIVE":
                    last.exclusive = True
                elif marker in ("OPEN", "SPECIFY"):
                    last.open = True
                else:
                    last.pinned = True
            return 1
        # Routing and programmer notes.
        if tr.is_instruction(text):
            self.instruction(text)
            return 1
        # Wording that continues over several lines.
        if self.text_open and not self._answer_like(text) and not el.list_item:
            q.text = (q.text + " " + self._pull_instructions(text, q.instructions)).strip()
            if re.search(r"[?:]\s*$", q.text):
                self.text_open = False
            return 1
        self.text_open = False
        # Scale anchors "1 = Very poor"
        anchor = tr.ANCHOR.match(text)
        if anchor:
            for part in re.split(r"\s*(?:;|\.\.\.|\u2026)\s*", text):
                m = tr.ANCHOR.match(part.strip())
                if m:
                    q.anchors[m.group("code")] = m.group("label").strip()
            self.body_started = True
            return 1
        # Code alone on its line, label on the next (PDF layouts).
        alone = tr.CODE_ALONE.match(text)
        if alone:
            nxt = elements[i + 1] if i + 1 < len(elements) else None
            label_text = nxt.text.strip() if isinstance(nxt, Line) else ""
            if label_text and self._is_label_for_code(label_text):
                option = tr.make_option(label_text, alone.group("code"))
                if option:
                    self.add_options([option])
                return 2
            option = tr.make_option(alone.group("code"), alone.group("code"))
            if option:
                option.code = alone.group("code")
                self.add_options([option])
            return 1
        inline = tr.split_inline_options(text)
        if inline:
            self.add_options(inline)
            return 1
        coded = tr.parse_coded(text)
        if coded and not re.fullmatch(r"_+|\.+", coded.label):
            self.add_options([coded])
            return 1
        bullet = tr.BULLET.match(text)
        if bullet:
            inner = bullet.group("label")
            option = tr.parse_coded(inner) or tr.make_option(inner, None)
            if option:
                self.add_options([option])
            return 1
        parts = tr.split_list(text)
        if parts and not q.options:
            self.add_options([o for p in parts if (o := tr.make_option(p, None))])
            return 1
        if re.fullmatch(r"[\[(]?_{3,}[\])]?|\.{3,}|\[\s*\]", text.strip()):
            return 1
        # A plain short line right under the question (answers written without codes).
        has_coded = any(o.code for o in q.options)
        if (
            not has_coded
            and not self.blank_since_answers
            and len(text) <= 80
            and "?" not in text
            and (q.options or q.text)
            and not el.quote
            and not text.rstrip().endswith(":")
        ):
            option = tr.make_option(text, None)
            if option:
                self.add_options([option])
            return 1
        return 1

    @staticmethod
    def _answer_like(text: str) -> bool:
        return bool(
            tr.CODE_ALONE.match(text)
            or tr.parse_coded(text)
            or tr.BULLET.match(text)
            or tr.split_inline_options(text)
            or tr.ANCHOR.match(text)
            or (tr.split_list(text) and " / " in text)
        )

    @staticmethod
    def _is_label_for_code(text: str) -> bool:
        if tr.CODE_ALONE.match(text) or tr.ANCHOR.match(text) or tr.LABEL_LINE.match(text):
            return False
        if re.fullmatch(r"(\[[^\]]*\]\s*)+", text):
            return False
        n, ratio = tr.letters_upper_ratio(text)
        return not (ratio >= 0.85 and len(text.split()) >= 3 and n >= 8)

    def _last_answer(self) -> Option | None:
        q = self.current
        if q is None:
            return None
        pool = {"options": q.options, "rows": q.rows, "columns": q.columns}[self.target]
        return pool[-1] if pool else (q.options[-1] if q.options else None)

    def add_options(self, options: list[Option], target: str | None = None) -> None:
        q = self.current
        if q is None:
            return
        pool = {"options": q.options, "rows": q.rows, "columns": q.columns}[target or self.target]
        pool.extend(options)
        self.body_started = True
        self.blank_since_answers = False

    def instruction(self, text: str) -> None:
        q = self.current
        assert q is not None
        clean = text.strip().strip("*").strip()
        if tr.is_routing(clean):
            explicit = None
            target = re.search(r"\b(?:ask|show|display)\s+(?:only\s+)?([A-Z]{1,4}\d{1,3}[a-z]?)\b", clean)
            if target:
                explicit = target.group(1)
            self.notes.append(_Note(clean, q.label, len(self.questions), explicit))
            if terminate_only(clean) or tr.skip_phrase(clean):
                return
            if tr.show_if_phrase(clean) and not tr.classify(clean):
                return
        q.instructions.append(clean)
        self.body_started = True

    def table(self, table: Table) -> None:
        q = self.current
        rows = [[c.strip() for c in r] for r in table.rows if any(c.strip() for c in r)]
        if q is None or q.kind == "text" or len(rows) < 2:
            return
        width = max(len(r) for r in rows)
        header = rows[0]
        if width == 2 or (width >= 2 and all(len([c for c in r if c]) <= 2 for r in rows)):
            # A code/answer list.
            body = rows[1:] if not any(tr.CODE_ALONE.match(c) for c in header if c) else rows
            for r in body:
                cells = [c for c in r if c]
                if len(cells) == 2 and tr.CODE_ALONE.match(cells[0]):
                    option = tr.make_option(cells[1], tr.CODE_ALONE.match(cells[0]).group("code"))
                elif len(cells) == 2 and tr.CODE_ALONE.match(cells[1]):
                    option = tr.make_option(cells[0], tr.CODE_ALONE.match(cells[1]).group("code"))
                elif cells:
                    option = tr.make_option(cells[-1], None)
                else:
                    option = None
                if option:
                    self.add_options([option])
            return
        columns = [tr.make_option(c, _trailing_code(c)) for c in header[1:] if c]
        statements: list[Option] = []
        for r in rows[1:]:
            first = r[0] if r else ""
            rest = [c for c in r[1:] if c]
            if not first or re.fullmatch(r"\(?codes?\)?", first.strip(), re.I):
                if rest and all(tr.CODE_ALONE.match(c) for c in rest):
                    for col, code in zip(columns, rest, strict=False):
                        if col is not None:
                            col.code = tr.CODE_ALONE.match(code).group("code")
                continue
            match = re.match(r"^\(?([a-zA-Z]|\d{1,3})[.)]\s+(\S.*)$", first)
            option = tr.make_option(match.group(2), match.group(1)) if match else tr.make_option(first, None)
            if option:
                statements.append(option)
        q.columns.extend(c for c in columns if c is not None)
        q.rows.extend(statements)
        self.body_started = True


def _trailing_code(text: str) -> str | None:
    match = re.search(r"\(\s*(\d{1,3})\s*\)\s*$", text)
    return match.group(1) if match else None


def terminate_only(text: str) -> bool:
    return tr.terminate_phrase(text) and not tr.show_if_phrase(text) and not tr.skip_phrase(text)


# --- finishing questions ------------------------------------------------------------------------------


def finalize(q: Question) -> None:
    instr = " ".join(q.instructions)
    kind = None
    if q.kind == "text" and q.explicit_kind:
        return
    for note in q.instructions:
        found = tr.classify(note)
        if found:
            kind = found
            break
    if kind is None:
        kind = tr.classify(instr)
    hint = tr.text_kind_hint(q.text)
    if kind in (None, "single") and hint in ("multi", "rank") and q.options:
        kind = hint
    if (q.rows or q.options) and q.columns:
        kind = kind if kind in ("grid_single", "grid_multi") else "grid_single"
    if kind is None:
        if q.options:
            kind = "single"
        elif hint == "scale":
            kind = "scale"
        elif re.match(r"^(how many|how much)\b", q.text, re.I) or re.search(r"\bhow many\b", q.text, re.I):
            kind = "numeric"
        else:
            kind = "open"
    else:
        q.explicit_kind = True
    if kind in ("grid_single", "grid_multi"):
        if q.options and not q.rows and q.columns:
            q.rows, q.options = q.options, []
        elif q.options and q.rows and not q.columns:
            q.columns, q.options = q.options, []
        elif q.options and not q.rows and not q.columns:
            q.rows, q.options = q.options, []
            q.attention.append("Grid without a recognisable column scale")
        if not q.rows or not q.columns:
            q.attention.append("Grid rows or columns could not be found")
    if kind == "scale":
        lo, hi = tr.scale_range(instr)
        if lo is None:
            lo, hi = tr.scale_range(q.text)
        numeric = [tr.number(o.label) for o in q.options]
        if lo is None and q.options and all(n is not None for n in numeric):
            lo, hi = min(numeric), max(numeric)  # type: ignore[type-var]
        if lo is None and q.anchors:
            keys = sorted(int(k) for k in q.anchors)
            lo, hi = keys[0], keys[-1]
        if q.options and not all(n is not None for n in numeric) and len(q.options) >= 3 and lo is None:
            kind = "single"
        else:
            q.options = []
            q.min, q.max = lo, hi
            if lo is None:
                q.attention.append("Scale end points not found")
    if kind == "numeric":
        lo, hi = tr.find_range(instr)
        if lo is None and hi is None:
            lo, hi = tr.find_range(" ".join(o.label for o in q.options))
        q.min, q.max = lo, hi
        q.options = []
    if kind in ("open", "text") and q.options:
        if kind == "open" and len(q.options) >= 2 and not q.explicit_kind:
            kind = "single"
        elif kind == "open":
            q.options = []
    if kind == "multi":
        up_to = re.search(r"\b(?:up to|max(?:imum)?(?: of)?)\s+(\d+)", instr, re.I)
        if up_to:
            q.max_selections = int(up_to.group(1))
    q.kind = kind
    if re.search(r"randomi[sz]e|rotate|random order|shuffle", instr, re.I):
        q.randomize = True
    # Exclusive answers.
    codes = q.option_codes()
    for code in tr.exclusive_codes(instr):
        if code in codes:
            q.options[codes.index(code)].exclusive = True
    for label in tr.quoted_exclusive(instr):
        for o in q.options:
            if o.label.lower() == label.lower():
                o.exclusive = True
    if kind == "multi":
        for o in q.options:
            if tr.AUTO_EXCLUSIVE.match(o.label):
                o.exclusive = True
    if kind not in ("multi",):
        for o in q.options:
            o.exclusive = o.exclusive and kind == "multi"
    for o in q.options:
        if tr.PINNED.match(o.label) or o.exclusive:
            o.pinned = True
    # Terminating answers named in the instructions ("TERMINATE CODES 6-7").
    for note in q.instructions:
        if tr.terminate_phrase(note) and not tr.show_if_phrase(note):
            for code in tr.code_numbers(note):
                if code in codes:
                    q.options[codes.index(code)].terminate = True
    if kind in ("single", "multi", "dropdown", "rank") and len(q.options) < 2:
        q.attention.append("Choice question with fewer than two answers")
    if kind in ("single", "multi", "dropdown", "rank"):
        _sort_interleaved(q)


def _sort_interleaved(q: Question) -> None:
    """Two-column code lists read row by row (1, 11, 2, 12 ...) are put back in code order."""
    codes = [o.code for o in q.options]
    if not codes or not all(c and c.isdigit() for c in codes):
        return
    ints = [int(c) for c in codes if c]
    if (
        ints != sorted(ints)
        and ints != sorted(ints, reverse=True)
        and sorted(ints) == list(range(min(ints), min(ints) + len(ints)))
    ):
        q.options.sort(key=lambda o: int(o.code or 0))


# --- routing -------------------------------------------------------------------------------------------


def resolve_routing(questions: list[Question], notes: list[_Note]) -> list[SkipRule]:
    by_label = {q.label: q for q in questions}
    index = {q.label: i for i, q in enumerate(questions)}
    skips: list[SkipRule] = []
    for note in notes:
        text = note.text
        refs = tr.referenced_labels(text, by_label)
        if tr.show_if_phrase(text):
            target_label = note.explicit_target if note.explicit_target in by_label else None
            if target_label is None:
                target_index = note.next_index
                while target_index < len(questions) and questions[target_index].kind == "text":
                    target_index += 1
                if target_index >= len(questions):
                    continue
                target_label = questions[target_index].label
            target = by_label[target_label]
            sources = [r for r in refs if r != target_label]
            source = by_label.get(sources[0]) if sources else None
            if source is not None and source.kind == "scale" and source.min is not None and source.max is not None:
                condition = _scale_condition(text, source, refs)
                if condition is not None:
                    target.show_if.append(condition)
                    continue
            if source is None or not source.options:
                target.attention.append(f"Routing not understood: {text}")
                continue
            condition = tr.condition_from_text(text, source, [*refs])
            if condition is None:
                target.attention.append(f"Routing values not understood: {text}")
                continue
            target.show_if.append(condition)
        elif tr.skip_phrase(text):
            match = re.search(
                r"\b(?:skip|go|jump|proceed|continue|move|route)\s+(?:straight\s+)?(?:on\s+)?to\s+"
                r"(?:(?:question|q)\s*\.?\s*)?([A-Z]{0,4}\d{1,3}[a-z]?|the end|end)\b",
                text,
                re.I,
            )
            if not match:
                continue
            raw_target = match.group(1)
            if raw_target.lower() in ("end", "the end"):
                target_label = "END"
            elif raw_target.isdigit() or raw_target[:-1].isdigit():
                target_label = f"Q{raw_target}"
            else:
                target_label = raw_target.upper()
            condition_text = text[: match.start()] + " " + text[match.end() :]
            cond_refs = [r for r in tr.referenced_labels(condition_text, by_label) if r != target_label]
            source_label = cond_refs[0] if cond_refs else note.context
            source = by_label.get(source_label or "")
            if source is None or not source.options:
                continue
            codes = tr.resolve_values(condition_text, source, [*refs, target_label])
            if not codes:
                source.attention.append(f"Skip condition not understood: {text}")
                continue
            skips.append(SkipRule(source.label, codes, target_label))
            if target_label in index:
                complement = [c for c in source.option_codes() if c not in codes]
                for i in range(index[source.label] + 1, index[target_label]):
                    skipped = questions[i]
                    if skipped.kind != "text" and complement:
                        skipped.show_if.append(Condition(source.label, complement))
        elif tr.terminate_phrase(text):
            source_label = next((r for r in refs if r in by_label), None) or note.context
            source = by_label.get(source_label or "")
            if source is None or not source.options:
                continue
            codes = tr.resolve_values(text, source, refs)
            option_codes = source.option_codes()
            for code in codes:
                source.options[option_codes.index(code)].terminate = True
    return skips


def _scale_condition(text: str, source: Question, refs: list[str]) -> Condition | None:
    """Scale points named in the words ("answered 1 or 2", "scores 0-6")."""
    body = re.split(r"\b(otherwise|else)\b", text, maxsplit=1, flags=re.I)[0]
    body = tr._strip_refs(body, refs)
    values: list[str] = []
    for match in re.finditer(r"(?<![\w.])(\d{1,3})(?:\s*(?:-|to|\u2013)\s*(\d{1,3}))?(?![\w.])", body):
        low = int(match.group(1))
        high = int(match.group(2)) if match.group(2) else low
        for value in range(low, high + 1):
            if source.min <= value <= source.max and str(value) not in values:  # type: ignore[operator]
                values.append(str(value))
    return Condition(source.label, values) if values else None


def program_elements(doc: Document) -> Questionnaire:
    walker = _Walker()
    walker.feed(doc.elements)
    questions = [q for q in walker.questions if q.text or q.options or q.rows]
    for q in questions:
        finalize(q)
    skips = resolve_routing(questions, walker.notes)
    return Questionnaire(title=doc.title, questions=questions, skips=skips)


def program(doc: Document) -> Questionnaire:
    from harken.surveys.parsing.tabular import program_sheets

    if doc.sheets:
        result = program_sheets(doc)
        if result is not None:
            return result
    by_lines = program_elements(doc)
    # A questionnaire laid out as a table (No. | Question | Type | Answers | Routing) in Word/Markdown.
    tables = [el.rows for el in doc.elements if isinstance(el, Table)]
    if tables:
        tabular = program_sheets(Document(title=doc.title, sheets=tables))
        if tabular is not None and _count(tabular) > _count(by_lines):
            return tabular
    return by_lines


def _count(result: Questionnaire) -> int:
    return sum(1 for q in result.questions if q.kind != "text")
