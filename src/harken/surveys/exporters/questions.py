"""`format=questions`: the platform-neutral question list (data/FORMAT.md §2)."""

from __future__ import annotations

from typing import Any

from harken.surveys.exporters.view import SurveyView, condition_labels


def _num(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def export_questions(view: SurveyView) -> dict[str, Any]:
    out: list[dict[str, Any]] = []
    for q in view.questions:
        item: dict[str, Any] = {"label": q.label, "type": q.kind, "text": q.text}
        if q.kind in ("single", "multi", "dropdown", "rank"):
            item["options"] = [c.label for c in q.choices]
            exclusive = [c.label for c in q.choices if c.exclusive]
            if exclusive:
                item["exclusive"] = exclusive
        if q.kind in ("grid_single", "grid_multi"):
            item["rows"] = [c.label for c in q.rows]
            item["columns"] = [c.label for c in q.columns]
        if q.kind in ("numeric", "scale"):
            item["min"] = _num(q.min)
            item["max"] = _num(q.max)
        show_if = condition_labels(view, q.show_if)
        if show_if:
            item["show_if"] = show_if
        terminate: list[str] = []
        for expression in q.terminate_if:
            cond = condition_labels(view, expression)
            if cond and cond["question"] == q.label:
                terminate.extend(v for v in cond["values"] if v not in terminate)
        if terminate:
            item["terminate_if"] = terminate
        out.append(item)
    return {"title": view.title, "language_code": view.language_code, "questions": out}
