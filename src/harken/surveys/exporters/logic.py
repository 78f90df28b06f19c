"""Translate condition expressions into each platform's logic language."""

from __future__ import annotations

import json
import re
from typing import Any

from harken.surveys import expressions as ex
from harken.surveys.exporters.view import SurveyView


def ident(label: str) -> str:
    """A label usable as an identifier on platforms that need one (Decipher, Python)."""
    name = re.sub(r"\W", "_", label)
    return name if re.match(r"[A-Za-z_]", name) else f"q_{name}"


def _parse(expression: str | None) -> ex.Node | None:
    if not expression:
        return None
    try:
        return ex.parse(expression)
    except ex.ExpressionError:
        return None


def _is_choice(view: SurveyView, label: str) -> bool:
    q = view.by_label.get(label)
    return q is not None and bool(q.choices)


def _literal(node: ex.Node) -> Any:
    return node.value if isinstance(node, ex.Literal) else None


# --- Decipher (Python) --------------------------------------------------------------------------------


def decipher(view: SurveyView, expression: str | None) -> str | None:
    node = _parse(expression)
    return None if node is None else _py(view, node)


def _py(view: SurveyView, node: ex.Node) -> str:
    if isinstance(node, ex.Binary) and node.op in ("and", "or"):
        return f"({_py(view, node.left)} {node.op} {_py(view, node.right)})"
    if isinstance(node, ex.Unary) and node.op == "not":
        return f"not ({_py(view, node.operand)})"
    if isinstance(node, ex.Binary) and isinstance(node.left, ex.Ref) and node.left.root == "answers":
        label = node.left.name
        var = ident(label)
        if _is_choice(view, label):
            if node.op in ("==", "contains", "!=") and isinstance(node.right, ex.Literal):
                cell = f"{var}.r{node.right.value}"
                return f"not {cell}" if node.op == "!=" else cell
            if node.op in ("in", "notin") and isinstance(node.right, ex.ListExpr):
                cells = " or ".join(f"{var}.r{_literal(i)}" for i in node.right.items)
                return f"not ({cells})" if node.op == "notin" else f"({cells})"
        if node.op in ("==", "!=", "<", "<=", ">", ">=") and isinstance(node.right, ex.Literal):
            return f"{var}.val {node.op} {json.dumps(node.right.value)}"
    return _generic(node, lambda r: f"{ident(r.name)}.val", "and", "or", "not ")


def _generic(node: ex.Node, ref: Any, and_: str, or_: str, not_: str) -> str:
    if isinstance(node, ex.Literal):
        return json.dumps(node.value)
    if isinstance(node, ex.Ref):
        return ref(node)
    if isinstance(node, ex.ListExpr):
        return "[" + ", ".join(_generic(i, ref, and_, or_, not_) for i in node.items) + "]"
    if isinstance(node, ex.Unary):
        inner = _generic(node.operand, ref, and_, or_, not_)
        return f"{not_}({inner})" if node.op == "not" else f"-{inner}"
    assert isinstance(node, ex.Binary)
    op = {"and": and_, "or": or_, "notin": "not in"}.get(node.op, node.op)
    return f"({_generic(node.left, ref, and_, or_, not_)} {op} {_generic(node.right, ref, and_, or_, not_)})"


# --- Confirmit / Forsta (JScript) ---------------------------------------------------------------------


def confirmit(view: SurveyView, expression: str | None) -> str | None:
    node = _parse(expression)
    return None if node is None else _js(view, node)


def _js(view: SurveyView, node: ex.Node) -> str:
    if isinstance(node, ex.Binary) and node.op in ("and", "or"):
        op = "&&" if node.op == "and" else "||"
        return f"({_js(view, node.left)} {op} {_js(view, node.right)})"
    if isinstance(node, ex.Unary) and node.op == "not":
        return f"!({_js(view, node.operand)})"
    if isinstance(node, ex.Binary) and isinstance(node.left, ex.Ref) and node.left.root == "answers":
        label = node.left.name
        if node.op in ("==", "contains", "!=") and isinstance(node.right, ex.Literal):
            call = f'f("{label}").any("{node.right.value}")'
            return f"!{call}" if node.op == "!=" else call
        if node.op in ("in", "notin") and isinstance(node.right, ex.ListExpr):
            codes = ", ".join(f'"{_literal(i)}"' for i in node.right.items)
            call = f'f("{label}").any({codes})'
            return f"!{call}" if node.op == "notin" else call
        if node.op in ("<", "<=", ">", ">=") and isinstance(node.right, ex.Literal):
            return f'f("{label}").toNumber() {node.op} {node.right.value}'
    return _generic(node, lambda r: f'f("{r.name}").get()', "&&", "||", "!")


# --- XLSForm (XPath) ----------------------------------------------------------------------------------


def xlsform(view: SurveyView, expression: str | None) -> str | None:
    node = _parse(expression)
    return None if node is None else _xpath(view, node)


def _xpath(view: SurveyView, node: ex.Node) -> str:
    if isinstance(node, ex.Binary) and node.op in ("and", "or"):
        return f"({_xpath(view, node.left)} {node.op} {_xpath(view, node.right)})"
    if isinstance(node, ex.Unary) and node.op == "not":
        return f"not({_xpath(view, node.operand)})"
    if isinstance(node, ex.Binary) and isinstance(node.left, ex.Ref) and node.left.root == "answers":
        label = node.left.name
        if _is_choice(view, label):
            values: list[Any] = []
            if node.op in ("==", "contains", "!=") and isinstance(node.right, ex.Literal):
                values = [node.right.value]
            elif node.op in ("in", "notin") and isinstance(node.right, ex.ListExpr):
                values = [_literal(i) for i in node.right.items]
            if values:
                joined = " or ".join(f"selected(${{{label}}}, '{v}')" for v in values)
                return f"not({joined})" if node.op in ("!=", "notin") else f"({joined})"
        if node.op in ("==", "!=", "<", "<=", ">", ">=") and isinstance(node.right, ex.Literal):
            op = "=" if node.op == "==" else node.op
            value = node.right.value
            return f"${{{label}}} {op} " + (f"'{value}'" if isinstance(value, str) else str(value))
    return _generic(node, lambda r: f"${{{r.name}}}", "and", "or", "not")


# --- Qualtrics (BooleanExpression) --------------------------------------------------------------------


def qualtrics_display_logic(view: SurveyView, expression: str | None, qids: dict[str, str]) -> dict[str, Any] | None:
    """A DisplayLogic object for simple choice conditions (or-chains on one question); else None."""
    node = _parse(expression)
    if node is None:
        return None
    simple = ex.choice_condition(node)
    if simple is None:
        return None
    label, values, negated = simple
    qid = qids.get(label)
    source = view.by_label.get(label)
    if qid is None or source is None:
        return None
    index = {c.value: str(i + 1) for i, c in enumerate(source.choices)}
    entries: dict[str, Any] = {}
    for n, value in enumerate(sorted(values, key=lambda v: int(index.get(v, "0")))):
        if value not in index:
            continue
        locator = f"q://{qid}/SelectableChoice/{index[value]}"
        entry: dict[str, Any] = {
            "LogicType": "Question",
            "QuestionID": qid,
            "QuestionIsInLoop": "no",
            "ChoiceLocator": locator,
            "Operator": "NotSelected" if negated else "Selected",
            "QuestionIDFromLocator": qid,
            "LeftOperand": locator,
            "Type": "Expression",
            "Description": f"{label} {'not ' if negated else ''}selected {value}",
        }
        if n > 0:
            entry["Conjuction"] = "And" if negated else "Or"
        entries[str(n)] = entry
    if not entries:
        return None
    return {"0": {**entries, "Type": "If"}, "Type": "BooleanExpression", "inPage": False}
