"""Questionnaire -> block IR (pages, blocks, navigation rules), the shape stored and served."""

from __future__ import annotations

import json
import re
from typing import Any

from harken.core.db import new_id
from harken.surveys.parsing.model import Condition, Option, Question, Questionnaire

TERMINATE_STATUS = "screened_out"


def _value(option: Option, index: int) -> str:
    return option.code or str(index + 1)


def _choices(options: list[Option]) -> list[dict[str, Any]]:
    out = []
    for i, o in enumerate(options):
        choice: dict[str, Any] = {"label": o.label, "value": _value(o, i)}
        if o.exclusive:
            choice["exclusive"] = True
        if o.open:
            choice["open"] = True
        if o.pinned:
            choice["pinned"] = True
        out.append(choice)
    return out


def condition_expression(conditions: list[Condition]) -> str | None:
    parts = []
    for c in conditions:
        ref = (
            f"answers.{c.question}"
            if re.fullmatch(r"[A-Za-z_]\w*", c.question)
            else f"answers[{json.dumps(c.question)}]"
        )
        if len(c.codes) == 1:
            expr = f"{ref} == {json.dumps(c.codes[0])}"
        else:
            expr = f"{ref} in [{', '.join(json.dumps(v) for v in c.codes)}]"
        parts.append(f"not ({expr})" if c.negate else expr)
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else " and ".join(f"({p})" for p in parts)


def block_config(q: Question) -> dict[str, Any]:
    config: dict[str, Any] = {"label": q.label, "content": q.text, "content_type": "markdown"}
    kind = q.kind
    if kind == "text":
        config["type"] = "Text"
    elif kind in ("single", "multi", "dropdown"):
        config.update(type="MultipleChoice", allowMultiple=kind == "multi", choices=_choices(q.options))
        if kind == "dropdown":
            config["display"] = "dropdown"
        if q.max_selections:
            config["maxSelections"] = q.max_selections
    elif kind == "scale":
        config.update(type="MultipleChoice", allowMultiple=False, variant="scale", min=q.min, max=q.max)
        if q.min is not None and q.max is not None and q.max - q.min <= 20 and float(q.min).is_integer():
            config["choices"] = [
                {"label": str(int(v)), "value": str(int(v))} for v in range(int(q.min), int(q.max) + 1)
            ]
        else:
            config["choices"] = []
        if q.anchors:
            config["anchors"] = dict(q.anchors)
    elif kind in ("grid_single", "grid_multi"):
        config.update(
            type="Matrix",
            allowMultiple=kind == "grid_multi",
            rows=[{"label": o.label, "value": _value(o, i)} for i, o in enumerate(q.rows)],
            columns=_choices(q.columns),
        )
    elif kind == "numeric":
        config.update(type="TextInput", inputType="number", min=q.min, max=q.max)
    elif kind == "rank":
        config.update(type="RankOrder", choices=_choices(q.options))
    else:
        config.update(type="TextInput", inputType="text", multiline=True)
    if q.randomize:
        config["randomize"] = True
    if q.instructions:
        config["instructions"] = q.instructions[:20]
    show_if = condition_expression(q.show_if)
    if show_if:
        config["showIf"] = show_if
    if q.attention:
        config["attentionRequired"] = {"reason": "; ".join(dict.fromkeys(q.attention)), "dismissed": False}
    return config


def build_ir(result: Questionnaire) -> dict[str, Any]:
    """Pages (one per question), terminate page and navigation rules, with fresh ids."""
    pages: list[dict[str, Any]] = []
    page_of: dict[str, dict[str, Any]] = {}
    for i, q in enumerate(result.questions):
        page = {
            "id": new_id(),
            "name": q.label,
            "order": i,
            "assign_response_status": None,
            "blocks": [{"id": new_id(), "order": 0, "config": block_config(q)}],
            "navigation_rules": [],
        }
        pages.append(page)
        page_of[q.label] = page
    terminate_page: dict[str, Any] | None = None

    def terminate_target() -> dict[str, Any]:
        nonlocal terminate_page
        if terminate_page is None:
            terminate_page = {
                "id": new_id(),
                "name": "TERMINATE",
                "order": len(pages),
                "assign_response_status": TERMINATE_STATUS,
                "blocks": [
                    {
                        "id": new_id(),
                        "order": 0,
                        "config": {
                            "type": "Text",
                            "label": "TERMINATE",
                            "role": "terminate",
                            "content": "Thank you for your time. Unfortunately you do not qualify for this survey.",
                            "content_type": "markdown",
                        },
                    }
                ],
                "navigation_rules": [],
            }
        return terminate_page

    for q in result.questions:
        codes = [_value(o, i) for i, o in enumerate(q.options) if o.terminate]
        if codes:
            target = terminate_target()
            condition = condition_expression([Condition(q.label, codes)])
            page_of[q.label]["navigation_rules"].append(
                {"id": new_id(), "target_page_id": target["id"], "order": 0, "condition": condition}
            )
    for skip in result.skips:
        source = page_of.get(skip.source)
        target = page_of.get(skip.target)
        if skip.target == "END" and target is None and pages:
            target = pages[-1]
        if source is None or target is None:
            continue
        source["navigation_rules"].append(
            {
                "id": new_id(),
                "target_page_id": target["id"],
                "order": len(source["navigation_rules"]),
                "condition": condition_expression([Condition(skip.source, skip.codes)]),
            }
        )
    if terminate_page is not None:
        pages.append(terminate_page)
    return {"title": result.title, "pages": pages, "variables": []}
