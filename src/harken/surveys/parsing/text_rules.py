"""Generic wording rules of questionnaires: labels, answer codes, instructions, routing phrases.

Nothing here is keyed to a particular questionnaire; these are the conventions research teams use
when they write a questionnaire for a programmer (codes next to answers, CAPITALS or [brackets] for
programmer notes, "ASK IF", "SKIP TO", "TERMINATE", "EXCLUSIVE", "RANDOMISE" ...).
"""

from __future__ import annotations

import re

from harken.surveys.parsing.model import Condition, Option, Question

DASH = "\u2013\u2014\u2212"

# "Q1.", "S2)", "A10:", "Q4 -", "B3\t", "QA1." - an upper-case prefix and a number.
LABEL_LINE = re.compile(
    rf"^(?P<label>[A-Z]{{1,4}}\d{{1,3}}[a-z]?(?:\.\d{{1,2}}(?=[.:)\s]))?)"
    rf"(?:\s*[.:)]\s*|\s*[-{DASH}]\s+|\t+\s*|\s{{2,}}|\s(?=[A-Z\"'\u201c(\u00bf\u00a1][a-z\s]))(?P<text>\S.*)$"
)
TEXT_LABEL_LINE = re.compile(
    rf"^(?P<label>INTRO\w*|WELCOME|CLOSE|CLOSING|END|THANKS|THANK_?YOU|OUTRO|INFO\d*|TEXT\d*|TXT\d*|INSTR\w*)"
    rf"(?:\s*[.:)]\s*|\s*[-{DASH}]\s+|\t+\s*|\s{{2,}})(?P<text>\S.*)$"
)
QUESTION_WORD_LINE = re.compile(rf"^question\s+(?P<num>\d{{1,3}}[a-z]?)\s*[.:)\-{DASH}]\s*(?P<text>\S.*)$", re.I)
NUMBERED_LINE = re.compile(r"^(?P<num>\d{1,3})[.)]\s+(?P<text>\S.*)$")
LABEL_ALONE = re.compile(r"^(?P<label>[A-Z][A-Z0-9_]{1,15})\s*[.:]?\s*(?P<note>\(.*\))?\s*$")
TEXT_LABEL = re.compile(
    r"^(INTRO\w*|WELCOME\w*|CLOSE|CLOSING\w*|END\w*|THANK\w*|OUTRO|INFO\d*|TEXT\d*|TXT\d*|INSTR\w*|T\d{1,3})$"
)
QUESTION_LABEL = re.compile(r"^[A-Z]{1,4}\d{1,3}[a-z]?(\.\d{1,2})?$")
TEXT_CUE = re.compile(
    r"^(?P<what>intro(duction)?|welcome|opening|closing|close|end|thank[\s-]?you|final|outro|exit)\b[^:]{0,40}"
    r"\b(text|page|screen|message|copy|wording)\b[^:]{0,20}:\s*(?P<rest>.*)$",
    re.I,
)
HEADING_LIKE = re.compile(rf"^(section|part|module|block)\s+[\w.]+\s*[:.{DASH}-]", re.I)

CODE_TAB = re.compile(r"^\(?(?P<code>\d{1,3}|[a-zA-Z])\)?[.)]?\s*\t+\s*(?P<label>\S.*)$")
CODE_PAREN = re.compile(r"^\((?P<code>\d{1,3}|[a-zA-Z])\)\s*(?P<label>\S.*)$")
CODE_DOT = re.compile(r"^(?P<code>\d{1,3}|[a-zA-Z])[.)]\s+(?P<label>\S.*)$")
CODE_SPACES = re.compile(r"^(?P<code>\d{1,3})\s{2,}(?P<label>\S.*)$")
CODE_SPACE = re.compile(r"^(?P<code>\d{1,3})\s+(?P<label>[^\d\s=].*)$")
CODE_ALONE = re.compile(r"^\(?(?P<code>\d{1,3})\)?[.)]?$")
BULLET = re.compile(
    r"^(?:[-*\u2022\u25cb\u25cf\u25a1\u2610\u2611\u2612\u25e6\u2023\u2043]|o(?=\s)|\(\s?\)|\[\s?\]|<\s?>)\s*(?P<label>\S.*)$"
)
ANCHOR = re.compile(r"^(?P<code>\d{1,3})\s*=\s*(?P<label>\S.*)$")

OPEN_OPTION = re.compile(r"specify|write in|write-in|type in|\[open|other\b.*\(.*\)", re.I)
AUTO_EXCLUSIVE = re.compile(
    r"^(none( of (these|those|the above|them|this|the following))?|nothing|no,? none|neither|"
    r"don'?t know|do not know|not sure|prefer not to (say|answer)|i'?d rather not say|n/?a)\b",
    re.I,
)
PINNED = re.compile(r"^(other\b|none\b|don'?t know|not sure|prefer not|neither|n/?a\b)", re.I)


def norm_dashes(text: str) -> str:
    return re.sub(f"[{DASH}]", "-", text)


def strip_emphasis(text: str) -> str:
    text = text.strip()
    text = re.sub(r"^(\*\*|__)(.*?)(\*\*|__)$", r"\2", text).strip()
    text = re.sub(r"^\*\*\s*(.*?)\s*\*\*$", r"\1", text)
    return text.strip().strip("*").strip() if text.startswith("**") and text.endswith("**") else text


def letters_upper_ratio(text: str) -> tuple[int, float]:
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return 0, 0.0
    return len(letters), sum(c.isupper() for c in letters) / len(letters)


ROUTING_START = re.compile(
    r"^(-+>|=>|\u2192|\*\*|ask\b|show\b|display\b|only ask\b|if\b|skip\b|terminate\b|screen\s*out\b|go to\b|"
    r"programm(er|ing)\b|pn\b|note\b|scripter\b|randomi[sz]e\b|rotate\b|base\s*:|filter\s*:)",
    re.I,
)


def is_instruction(text: str) -> bool:
    t = text.strip()
    if not t:
        return False
    if re.fullmatch(r"(\[[^\]]*\]\s*)+", t) or re.fullmatch(r"\([^()]*(\([^()]*\)[^()]*)*\)", t):
        return True
    if re.fullmatch(r"\*?\[.*\]\*?", t) or re.fullmatch(r"`\[.*\]`", t):
        return True
    if ROUTING_START.match(t) and (is_routing(t) or re.match(r"^(-+>|=>|\u2192|\*\*|pn\b|note\b|programm)", t, re.I)):
        return True
    n, ratio = letters_upper_ratio(t)
    return n >= 4 and ratio >= 0.85


def is_routing(text: str) -> bool:
    return bool(show_if_phrase(text) or skip_phrase(text) or terminate_phrase(text))


def show_if_phrase(text: str) -> bool:
    t = text.lower()
    if re.search(r"\b(ask|show|display)\s+(to\s+)?(all|everyone|everybody)\b", t) and not re.search(r"\bif\b", t):
        return False
    return bool(
        re.search(r"\b(ask(ed)?|show(n)?|display(ed)?)\b[^.]{0,30}\b(if|when|those|people|respondents|anyone|who)\b", t)
        or re.search(r"\bonly\s+(ask|show|display)\b", t)
        or re.match(r"^\s*(base|filter)\s*:\s*(?!all\b)", t)
    )


def skip_phrase(text: str) -> bool:
    t = text.lower()
    return bool(
        re.search(r"\bif\b", t)
        and re.search(r"\b(skip|go|jump|proceed|continue|move|route)\s+(straight\s+)?(on\s+)?to\b", t)
        and not show_if_phrase(text)
    )


TERMINATE_WORDS = r"terminate|screen[\s-]?out|disqualif\w*|thank (?:and|&) (?:close|end|terminate)"


def terminate_phrase(text: str) -> bool:
    return bool(re.search(rf"\b({TERMINATE_WORDS})\b", text, re.I))


# --- option lines -------------------------------------------------------------------------------


def split_markers(label: str) -> tuple[str, set[str]]:
    """Remove programmer markers from an answer ("-> TERMINATE", "[EXCLUSIVE]", "(12)") and report them."""
    marks: set[str] = set()
    text = norm_dashes(label)

    def bracket(match: re.Match[str]) -> str:
        inner = match.group(1).upper()
        if "EXCLUSIVE" in inner or "SINGLE CODE" in inner:
            marks.add("exclusive")
        if "TERMINATE" in inner or "SCREEN" in inner:
            marks.add("terminate")
        if "OPEN" in inner or "SPECIFY" in inner or "TEXT BOX" in inner:
            marks.add("open")
        if "ANCHOR" in inner or "FIX" in inner or "KEEP" in inner:
            marks.add("pinned")
        return " "

    text = re.sub(r"\*{0,2}\[([^\]]*)\]\*{0,2}", bracket, text)
    arrow = re.search(
        r"(->|=>|\u2192)\s*[^>]*?\b(terminate|screen[\s-]?out|close (the )?survey|end (the )?survey)\b.*$", text, re.I
    )
    if arrow:
        marks.add("terminate")
        text = text[: arrow.start()]
    dashed = re.search(
        r"\s[-:]\s*(thank (and|&) (close|end)|terminate|screen[\s-]?out|close (the )?survey|end (the )?survey)\s*\.?$",
        text,
        re.I,
    )
    if dashed:
        marks.add("terminate")
        text = text[: dashed.start()]
    if re.search(r"(->|=>|\u2192)?\s*\b(TERMINATE|SCREEN\s*OUT|SCREENOUT|THANK (AND|&) CLOSE)\b", text):
        marks.add("terminate")
        text = re.sub(r"(->|=>|\u2192)?\s*\b(TERMINATE|SCREEN\s*OUT|SCREENOUT|THANK (AND|&) CLOSE)\b.*$", " ", text)
    if re.search(r"[(\[]\s*(terminate|screen[\s-]?out)\s*[)\]]", text, re.I):
        marks.add("terminate")
        text = re.sub(r"[(\[]\s*(terminate|screen[\s-]?out)\s*[)\]]", " ", text, flags=re.I)
    if re.search(r"[(\[]\s*(exclusive|single code|only answer)\s*[)\]]", text, re.I):
        marks.add("exclusive")
        text = re.sub(r"[(\[]\s*(exclusive|single code|only answer)\s*[)\]]", " ", text, flags=re.I)
    if re.search(r"\bEXCLUSIVE\b", text):
        marks.add("exclusive")
        text = re.sub(r"\(?\bEXCLUSIVE\b\)?", " ", text)
    if re.search(r"\b(ANCHOR|FIXED|KEEP (LAST|FIRST|AT BOTTOM))\b", text):
        marks.add("pinned")
        text = re.sub(r"\(?\b(ANCHOR|FIXED|KEEP (LAST|FIRST|AT BOTTOM))\b\)?", " ", text)
    text = re.sub(r"(->|=>|\u2192)\s*$", " ", text)
    # trailing code in brackets: "Agree (4)"
    text = re.sub(r"\s*\(\s*\d{1,3}\s*\)\s*$", "", text)
    text = re.sub(r"\s+", " ", text.replace("\t", " ")).strip(" -*`_")
    return text.strip(), marks


def make_option(label: str, code: str | None) -> Option | None:
    clean, marks = split_markers(label)
    if not clean:
        return None
    option = Option(
        label=clean,
        code=code.lstrip("0") or "0" if code and code.isdigit() else code,
        exclusive="exclusive" in marks,
        terminate="terminate" in marks,
        open="open" in marks or bool(OPEN_OPTION.search(clean)),
        pinned="pinned" in marks,
    )
    return option


CODE_SPACE_CAP = re.compile(r"^(?P<code>\d{1,3})\s(?P<label>[A-Z\"'\u201c\u2018][^=]*)$")


def parse_coded(text: str) -> Option | None:
    t = text.strip()
    for pattern in (CODE_TAB, CODE_PAREN, CODE_DOT, CODE_SPACES, CODE_SPACE_CAP):
        match = pattern.match(t)
        if match:
            return make_option(match.group("label"), match.group("code"))
    return None


def split_inline_options(text: str) -> list[Option] | None:
    """Several coded answers on one line: "a) Yes   b) No", "(1) Yes · (2) No", "1 Yes\t\t2 No"."""
    t = text.strip()
    parts = [p.strip() for p in re.split(r"\t+|\s{3,}|\s+[\u00b7\u2022|]\s+", t) if p.strip()]
    if len(parts) >= 2:
        options = []
        for part in parts:
            match = CODE_PAREN.match(part) or CODE_DOT.match(part) or CODE_SPACE.match(part)
            if not match:
                options = []
                break
            option = make_option(match.group("label"), match.group("code"))
            if option is None:
                options = []
                break
            options.append(option)
        if len(options) >= 2:
            return options
    # "a) Yes b) No c) Can't remember" with single spaces
    letters = list(re.finditer(r"(?:^|\s)\(?([a-h])\)\s+", t))
    if (
        len(letters) >= 2
        and letters[0].start() == 0
        and [m.group(1) for m in letters] == list("abcdefgh")[: len(letters)]
    ):
        options = []
        for i, m in enumerate(letters):
            end = letters[i + 1].start() if i + 1 < len(letters) else len(t)
            option = make_option(t[m.end() : end], m.group(1))
            if option:
                options.append(option)
        return options if len(options) >= 2 else None
    return None


def split_list(text: str) -> list[str] | None:
    """Answers separated by " / ", ";" or " | " on one line."""
    t = text.strip().rstrip(".")
    for sep in (";", " | "):
        if t.count(sep) >= 1:
            parts = [p.strip() for p in t.split(sep) if p.strip()]
            if len(parts) >= 2:
                return parts
    if t.count(" / ") >= 2 or (t.count(" / ") == 1 and all(p.strip()[:1].isupper() for p in t.split(" / "))):
        parts = [p.strip() for p in t.split(" / ") if p.strip()]
        if len(parts) >= 2 and all(len(p) <= 60 for p in parts):
            return parts
    return None


# --- kinds and ranges -----------------------------------------------------------------------------


def classify(instruction: str) -> str | None:
    """The question kind an instruction names, if any."""
    t = norm_dashes(instruction).lower()
    if re.search(r"\b(grid|matrix|table)\b|per row|each row|for each (line|row|statement)", t):
        if re.search(r"multi|select all|all that apply|checkbox|tick all|check all|many per row|more than one", t):
            return "grid_multi"
        return "grid_single"
    if re.search(r"\brank(ing|ed)?\b|in order of (importance|preference)", t):
        return "rank"
    if re.search(r"drop[\s-]?down|select box|pull[\s-]?down", t):
        return "dropdown"
    if re.search(r"\bnps\b|\bscale\b|\brating\b|\d+\s*-?\s*point\b|\bslider\b", t):
        return "scale"
    if re.search(r"\bnumeric\b|\bnumber\b|\binteger\b|\bnumerical\b|\bwhole (number|amount)", t):
        return "numeric"
    if re.search(
        r"\bopen\b|free[\s-]?text|text box|text field|write[\s-]?in|type in|verbatim|comment box|\bessay\b", t
    ):
        return "open"
    if re.search(
        r"\bmulti|select all|all that apply|tick all|check all|select up to|up to \d|choose up to|more than one|"
        r"\bmultiple\b",
        t,
    ):
        return "multi"
    if re.search(r"\bsingle\b|one answer|select one|one only|choose one|only one|\bradio\b", t):
        return "single"
    if re.search(r"^\s*(text|info|instruction|statement|description|note)\s*$", t):
        return "text"
    return None


def text_kind_hint(text: str) -> str | None:
    t = text.lower()
    if re.search(r"select all|all that apply|tick all|check all that|choose all", t):
        return "multi"
    if re.search(r"\bplease rank\b|\brank (the|these|each|in order)", t):
        return "rank"
    if re.search(r"\bon a scale (of|from)\b|\bscale (of|from) \d", t):
        return "scale"
    return None


def number(text: str) -> float | None:
    t = text.replace(",", "").strip()
    try:
        value = float(t)
    except ValueError:
        return None
    return int(value) if value.is_integer() else value


NUM = r"\d[\d,]*(?:\.\d+)?"


def find_range(text: str) -> tuple[float | None, float | None]:
    t = norm_dashes(text)
    patterns = [
        rf"\brange\s*(?:of|:)?\s*(?P<a>{NUM})\s*(?:-|to)\s*(?P<b>{NUM})",
        rf"\bfrom\s+(?P<a>{NUM})\s+to\s+(?P<b>{NUM})",
        rf"\bbetween\s+(?P<a>{NUM})\s+and\s+(?P<b>{NUM})",
        rf"(?<![\w.])(?P<a>{NUM})\s*(?:-|to)\s*(?P<b>{NUM})(?![\w.])",
    ]
    for pattern in patterns:
        match = re.search(pattern, t, re.I)
        if match:
            a, b = number(match.group("a")), number(match.group("b"))
            if a is not None and b is not None and a < b:
                return a, b
    low = re.search(rf"\b(min(imum)?|at least)\s*(?:of|:|=)?\s*(?P<a>{NUM})", t, re.I)
    high = re.search(rf"\b(max(imum)?|at most|up to)\s*(?:of|:|=)?\s*(?P<b>{NUM})", t, re.I)
    return (number(low.group("a")) if low else None, number(high.group("b")) if high else None)


def scale_range(text: str) -> tuple[float | None, float | None]:
    t = norm_dashes(text)
    for pattern in (
        rf"(?:scale|nps|rating)\s*(?:of|from|:)?\s*(?P<a>{NUM})\s*(?:-|to)\s*(?P<b>{NUM})",
        rf"(?P<a>{NUM})\s*(?:-|to)\s*(?P<b>{NUM})\s*(?:point\s*)?(?:scale|rating)",
        rf"(?P<a>{NUM})\s*(?:-|to)\s*(?P<b>{NUM})",
    ):
        match = re.search(pattern, t, re.I)
        if match:
            a, b = number(match.group("a")), number(match.group("b"))
            if a is not None and b is not None and a < b <= 100:
                return a, b
    if re.search(r"\bnps\b", t, re.I):
        return 0, 10
    point = re.search(r"(\d+)\s*-?\s*point", t, re.I)
    if point:
        return 1, int(point.group(1))
    return None, None


# --- conditions in words ----------------------------------------------------------------------------


LABEL_TOKEN = re.compile(r"\b([A-Z]{1,4}\d{1,3}[a-z]?)\b")
QUESTION_NUMBER = re.compile(r"\b(?:question|q)\s*\.?\s*(\d{1,3}[a-z]?)\b", re.I)


def referenced_labels(text: str, known: dict[str, Question]) -> list[str]:
    found: list[str] = []
    for match in LABEL_TOKEN.finditer(text):
        if match.group(1) in known and match.group(1) not in found:
            found.append(match.group(1))
    for match in QUESTION_NUMBER.finditer(text):
        label = f"Q{match.group(1)}"
        if label in known and label not in found:
            found.append(label)
    return found


def code_numbers(text: str) -> list[str]:
    """Numbers in a code context: "codes 4-5", "= 1 OR 2", "CODE 8", "(1)" after a value."""
    t = norm_dashes(text)
    out: list[str] = []
    seq = r"(\d{1,3}(?:\s*(?:-|to)\s*\d{1,3})?(?:\s*(?:,|/|&|\bor\b|\band\b)\s*\d{1,3}(?:\s*(?:-|to)\s*\d{1,3})?)*)"
    for pattern in (rf"\bcodes?\s*[:=]?\s*{seq}", rf"(?:=|==|\bis\b|\bequals\b)\s*{seq}(?!\s*[\w%])"):
        for match in re.finditer(pattern, t, re.I):
            for part in re.split(r"\s*(?:,|/|&|\bor\b|\band\b)\s*", match.group(1), flags=re.I):
                rng = re.match(r"(\d+)\s*(?:-|to)\s*(\d+)", part)
                if rng:
                    a, b = int(rng.group(1)), int(rng.group(2))
                    if 0 <= b - a <= 200:
                        out.extend(str(n) for n in range(a, b + 1))
                elif part.strip().isdigit():
                    out.append(str(int(part)))
    seen: list[str] = []
    for code in out:
        if code not in seen:
            seen.append(code)
    return seen


def _strip_refs(text: str, labels: list[str]) -> str:
    for label in labels:
        text = re.sub(rf"\b{re.escape(label)}\b", " ", text)
    return QUESTION_NUMBER.sub(" ", text)


def resolve_values(text: str, question: Question, strip_labels: list[str]) -> list[str]:
    """Option codes of `question` named in `text` (by code numbers or by answer wording)."""
    body = re.split(r"\b(otherwise|else|everyone else|all others)\b", text, maxsplit=1, flags=re.I)[0]
    body = _strip_refs(body, strip_labels)
    codes = question.option_codes()
    numbers = [c for c in code_numbers(body) if c in codes]
    if numbers:
        return numbers
    lowered = norm_dashes(body).lower()
    hits: list[tuple[int, str]] = []
    taken: list[tuple[int, int]] = []
    order = sorted(range(len(question.options)), key=lambda i: -len(question.options[i].label))
    for i in order:
        label = norm_dashes(question.options[i].label).lower()
        label = re.sub(r"\s*\(.*?\)\s*$", "", label) or label
        for match in re.finditer(rf"(?<!\w){re.escape(label)}(?!\w)", lowered):
            span = (match.start(), match.end())
            if any(not (span[1] <= a or span[0] >= b) for a, b in taken):
                continue
            taken.append(span)
            hits.append((i, codes[i]))
            break
    return [code for _, code in sorted(hits)]


def condition_from_text(text: str, source: Question, strip_labels: list[str]) -> Condition | None:
    codes = resolve_values(text, source, strip_labels)
    if not codes:
        return None
    negate = bool(re.search(r"!=|<>|\bnot\s+(code|=|equal)", text, re.I))
    return Condition(source.label, codes, negate)


def exclusive_codes(text: str) -> list[str]:
    t = norm_dashes(text)
    out: list[str] = []
    for match in re.finditer(
        r"\bcodes?\s+([\d\s,&/-]+(?:\s*(?:and|or)\s*[\d\s,-]+)*)\s*(?:are\s+|is\s+)?exclusive", t, re.I
    ):
        out.extend(code_numbers("code " + match.group(1)))
    return out


def quoted_exclusive(text: str) -> list[str]:
    return [
        m.group(1).strip()
        for m in re.finditer(
            r"['\"\u2018\u2019\u201c\u201d]([^'\"\u2018\u2019\u201c\u201d]{1,80})['\"\u2018\u2019\u201c\u201d]\s+"
            r"(?:is|are|as|should be)\s+(?:an?\s+)?exclusive",
            text,
            re.I,
        )
    ]
