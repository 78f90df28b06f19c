"""A flat, platform-neutral reading of a FullSurvey that every exporter shares."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harken.surveys import expressions as ex

END_STATUSES = {"screened_out", "terminated", "terminate", "disqualified", "quota_full", "over_quota"}


@dataclass
class Choice:
    value: str
    label: str
    exclusive: bool = False
    open: bool = False
    pinned: bool = False


@dataclass
class QuestionView:
    label: str
    kind: str
    text: str
    choices: list[Choice] = field(default_factory=list)
    rows: list[Choice] = field(default_factory=list)
    columns: list[Choice] = field(default_factory=list)
    min: float | None = None
    max: float | None = None
    show_if: str | None = None
    terminate_if: list[str] = field(default_factory=list)  # expressions that end the survey
    randomize: bool = False
    page_index: int = 0
    config: dict[str, Any] = field(default_factory=dict)


@dataclass
class SurveyView:
    title: str
    language_code: str
    questions: list[QuestionView]
    by_label: dict[str, QuestionView]


def kind_of(config: dict[str, Any]) -> str:
    block_type = config.get("type")
    if block_type == "Text" or block_type == "Loop":
        return "text"
    if block_type == "MultipleChoice":
        if config.get("variant") == "scale":
            return "scale"
        if config.get("display") == "dropdown":
            return "dropdown"
        return "multi" if config.get("allowMultiple") else "single"
    if block_type == "Matrix" or block_type == "CardSort":
        return "grid_multi" if config.get("allowMultiple") else "grid_single"
    if block_type == "TextInput":
        return "numeric" if config.get("inputType") == "number" else "open"
    if block_type == "RankOrder":
        return "rank"
    if block_type == "Autosum":
        return "numeric"
    if block_type == "InputList":
        return "open"
    return "text"


def _choices(items: Any) -> list[Choice]:
    out = []
    for i, item in enumerate(items or []):
        if isinstance(item, dict):
            out.append(
                Choice(
                    value=str(item.get("value", i + 1)),
                    label=str(item.get("label", "")),
                    exclusive=bool(item.get("exclusive")),
                    open=bool(item.get("open")),
                    pinned=bool(item.get("pinned")),
                )
            )
        else:
            out.append(Choice(value=str(i + 1), label=str(item)))
    return out


def build_view(survey: dict[str, Any]) -> SurveyView:
    questions: list[QuestionView] = []
    pages = sorted(survey.get("pages") or [], key=lambda p: p.get("order", 0))
    end_pages = {p["id"] for p in pages if (p.get("assign_response_status") or "") in END_STATUSES}
    page_questions: dict[str, list[QuestionView]] = {}
    n = 0
    for page_index, page in enumerate(pages):
        if page["id"] in end_pages:
            continue
        for block in sorted(page.get("blocks") or [], key=lambda b: b.get("order", 0)):
            config = block.get("config") or {}
            if config.get("role") == "terminate":
                continue
            n += 1
            kind = kind_of(config)
            q = QuestionView(
                label=str(config.get("label") or f"B{n}"),
                kind=kind,
                text=str(config.get("content") or ""),
                choices=_choices(config.get("choices")),
                rows=_choices(config.get("rows")),
                columns=_choices(config.get("columns")),
                min=config.get("min"),
                max=config.get("max"),
                show_if=config.get("showIf"),
                randomize=bool(config.get("randomize")),
                page_index=page_index,
                config=config,
            )
            questions.append(q)
            page_questions.setdefault(page["id"], []).append(q)
    by_label = {q.label: q for q in questions}
    for page in pages:
        for rule in page.get("navigation_rules") or []:
            if rule.get("target_page_id") not in end_pages or not rule.get("condition"):
                continue
            owner = None
            try:
                refs = ex.references(ex.parse(rule["condition"]))
            except ex.ExpressionError:
                refs = set()
            for root, name in refs:
                if root == "answers" and name in by_label:
                    owner = by_label[name]
                    break
            if owner is None and page_questions.get(page["id"]):
                owner = page_questions[page["id"]][-1]
            if owner is not None:
                owner.terminate_if.append(rule["condition"])
    return SurveyView(
        title=str(survey.get("title") or survey.get("name") or ""),
        language_code=str(survey.get("language_code") or "en"),
        questions=questions,
        by_label=by_label,
    )


def condition_labels(view: SurveyView, expression: str | None) -> dict[str, Any] | None:
    """`answers.Q2 in ["1","3"]` -> {"question": "Q2", "op": "in", "values": [labels]} when simple."""
    if not expression:
        return None
    try:
        node = ex.parse(expression)
    except ex.ExpressionError:
        return None
    simple = ex.choice_condition(node)
    if simple is None and isinstance(node, ex.Binary) and node.op == "and":
        simple = ex.choice_condition(node.left) or ex.choice_condition(node.right)
    if simple is None:
        return None
    label, values, negated = simple
    source = view.by_label.get(label)
    if source is None or not source.choices:
        return {"question": label, "op": "not_in" if negated else "in", "values": sorted(values)}
    chosen = [c for c in source.choices if (c.value in values) != negated]
    return {"question": label, "op": "in", "values": [c.label for c in chosen]}
