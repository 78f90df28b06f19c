"""The condition expression language of `showIf`, navigation-rule `condition` and variable `expression`.

Grammar (documented in docs/surveys.md), lowest precedence first:

    expr     := or
    or       := and (("or" | "||") and)*
    and      := not (("and" | "&&") not)*
    not      := ("not" | "!") not | compare
    compare  := sum [("==" | "!=" | "<" | "<=" | ">" | ">=" | "in" | "not in" | "contains") sum]
    sum      := product (("+" | "-") product)*
    product  := unary (("*" | "/") unary)*
    unary    := "-" unary | primary
    primary  := NUMBER | STRING | "true" | "false" | "null" | list | "(" expr ")" | ref
    list     := "[" [expr ("," expr)*] "]"
    ref      := ("answers" | "variables") ("." NAME | "[" STRING "]")

`answers.Q2` is the answer to the question labelled Q2: a choice value (string) for single choice,
a list of values for multiple choice, a number for numeric questions. `x in [..]` is true when x
(or, for a list answer, any element of x) is in the list; `x contains v` is true when the list
(or string) x contains v.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

ROOTS = ("answers", "variables")


class ExpressionError(ValueError):
    def __init__(self, message: str, position: int | None = None) -> None:
        super().__init__(message if position is None else f"{message} (at character {position})")
        self.position = position


@dataclass(frozen=True)
class Literal:
    value: Any


@dataclass(frozen=True)
class Ref:
    root: str
    name: str


@dataclass(frozen=True)
class ListExpr:
    items: tuple[Any, ...]


@dataclass(frozen=True)
class Unary:
    op: str
    operand: Any


@dataclass(frozen=True)
class Binary:
    op: str  # or and == != < <= > >= in notin contains + - * /
    left: Any
    right: Any


Node = Literal | Ref | ListExpr | Unary | Binary

_TOKEN = re.compile(
    r"""\s*(?:
    (?P<number>\d+(?:\.\d+)?)
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<op>==|!=|<=|>=|&&|\|\||[<>!()\[\],.+\-*/])
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
    )""",
    re.VERBOSE,
)


def _tokenize(text: str) -> list[tuple[str, Any, int]]:
    tokens: list[tuple[str, Any, int]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise ExpressionError(f"unexpected character {text[pos:].lstrip()[:1]!r}", pos)
        start = match.start(match.lastgroup) if match.lastgroup else pos
        kind = match.lastgroup or ""
        raw = match.group(kind)
        if kind == "number":
            tokens.append(("num", float(raw) if "." in raw else int(raw), start))
        elif kind == "string":
            body = raw[1:-1]
            tokens.append(("str", re.sub(r"\\(.)", r"\1", body), start))
        elif kind == "op":
            tokens.append(("op", raw, start))
        else:
            tokens.append(("name", raw, start))
        pos = match.end()
    tokens.append(("end", None, len(text)))
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokenize(text)
        self.i = 0

    def peek(self, offset: int = 0) -> tuple[str, Any, int]:
        return self.tokens[min(self.i + offset, len(self.tokens) - 1)]

    def take(self) -> tuple[str, Any, int]:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def accept(self, kind: str, *values: Any) -> bool:
        tok = self.peek()
        if tok[0] == kind and (not values or tok[1] in values):
            self.i += 1
            return True
        return False

    def expect_op(self, value: str) -> None:
        tok = self.peek()
        if not (tok[0] == "op" and tok[1] == value):
            raise ExpressionError(f"expected {value!r}", tok[2])
        self.i += 1

    def parse(self) -> Node:
        if self.peek()[0] == "end":
            raise ExpressionError("empty expression", 0)
        node = self.or_()
        tok = self.peek()
        if tok[0] != "end":
            raise ExpressionError(f"unexpected {tok[1]!r}", tok[2])
        return node

    def or_(self) -> Node:
        node = self.and_()
        while self.accept("name", "or") or self.accept("op", "||"):
            node = Binary("or", node, self.and_())
        return node

    def and_(self) -> Node:
        node = self.not_()
        while self.accept("name", "and") or self.accept("op", "&&"):
            node = Binary("and", node, self.not_())
        return node

    def not_(self) -> Node:
        if self.accept("name", "not") or self.accept("op", "!"):
            return Unary("not", self.not_())
        return self.compare()

    def compare(self) -> Node:
        left = self.sum_()
        tok = self.peek()
        if tok[0] == "op" and tok[1] in ("==", "!=", "<", "<=", ">", ">="):
            self.take()
            return Binary(tok[1], left, self.sum_())
        if tok[0] == "name" and tok[1] in ("in", "contains"):
            self.take()
            return Binary(tok[1], left, self.sum_())
        if tok[0] == "name" and tok[1] == "not" and self.peek(1)[0] == "name" and self.peek(1)[1] == "in":
            self.take()
            self.take()
            return Binary("notin", left, self.sum_())
        return left

    def sum_(self) -> Node:
        node = self.product()
        while self.peek()[0] == "op" and self.peek()[1] in ("+", "-"):
            op = self.take()[1]
            node = Binary(op, node, self.product())
        return node

    def product(self) -> Node:
        node = self.unary()
        while self.peek()[0] == "op" and self.peek()[1] in ("*", "/"):
            op = self.take()[1]
            node = Binary(op, node, self.unary())
        return node

    def unary(self) -> Node:
        if self.accept("op", "-"):
            return Unary("-", self.unary())
        return self.primary()

    def primary(self) -> Node:
        kind, value, pos = self.take()
        if kind == "num" or kind == "str":
            return Literal(value)
        if kind == "op" and value == "(":
            node = self.or_()
            self.expect_op(")")
            return node
        if kind == "op" and value == "[":
            items: list[Node] = []
            if not self.accept("op", "]"):
                items.append(self.or_())
                while self.accept("op", ","):
                    items.append(self.or_())
                self.expect_op("]")
            return ListExpr(tuple(items))
        if kind == "name":
            if value in ("true", "false"):
                return Literal(value == "true")
            if value == "null":
                return Literal(None)
            if value not in ROOTS:
                raise ExpressionError(f"unknown name {value!r}; references start with answers. or variables.", pos)
            if self.accept("op", "."):
                tok = self.take()
                if tok[0] != "name":
                    raise ExpressionError("expected a name after '.'", tok[2])
                return Ref(value, tok[1])
            if self.accept("op", "["):
                tok = self.take()
                if tok[0] != "str":
                    raise ExpressionError("expected a quoted name inside [ ]", tok[2])
                self.expect_op("]")
                return Ref(value, tok[1])
            raise ExpressionError(f"{value!r} must be followed by .NAME", pos)
        if kind == "end":
            raise ExpressionError("unexpected end of expression", pos)
        raise ExpressionError(f"unexpected {value!r}", pos)


def parse(text: str) -> Node:
    """Parse an expression; raises `ExpressionError` with a position on bad input."""
    if not isinstance(text, str):
        raise ExpressionError("expression must be a string")
    if len(text) > 10_000:
        raise ExpressionError("expression too long")
    return _Parser(text).parse()


def validate(text: str | None) -> str | None:
    if text is None:
        return None
    parse(text)
    return text


def references(node: Node) -> set[tuple[str, str]]:
    if isinstance(node, Ref):
        return {(node.root, node.name)}
    if isinstance(node, ListExpr):
        return set().union(*(references(i) for i in node.items)) if node.items else set()
    if isinstance(node, Unary):
        return references(node.operand)
    if isinstance(node, Binary):
        return references(node.left) | references(node.right)
    return set()


def evaluate(node: Node | str, answers: dict[str, Any], variables: dict[str, Any] | None = None) -> Any:
    """Evaluate against a respondent's answers (missing answers are null; errors are false)."""
    if isinstance(node, str):
        node = parse(node)
    variables = variables or {}
    if isinstance(node, Literal):
        return node.value
    if isinstance(node, Ref):
        return (answers if node.root == "answers" else variables).get(node.name)
    if isinstance(node, ListExpr):
        return [evaluate(i, answers, variables) for i in node.items]
    if isinstance(node, Unary):
        value = evaluate(node.operand, answers, variables)
        if node.op == "not":
            return not value
        return -value if isinstance(value, int | float) else None
    assert isinstance(node, Binary)
    if node.op == "and":
        return bool(evaluate(node.left, answers, variables)) and bool(evaluate(node.right, answers, variables))
    if node.op == "or":
        return bool(evaluate(node.left, answers, variables)) or bool(evaluate(node.right, answers, variables))
    left, right = evaluate(node.left, answers, variables), evaluate(node.right, answers, variables)
    try:
        return _binary(node.op, left, right)
    except TypeError:
        return False


def _norm(value: Any) -> Any:
    return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value


def _binary(op: str, left: Any, right: Any) -> Any:
    if op in ("in", "notin"):
        pool = [_norm(v) for v in (right if isinstance(right, list) else [right])]
        values = left if isinstance(left, list) else [left]
        hit = any(_norm(v) in pool for v in values)
        return hit if op == "in" else not hit
    if op == "contains":
        if isinstance(left, list):
            return _norm(right) in [_norm(v) for v in left]
        return isinstance(left, str) and str(right) in left
    if op == "==":
        if isinstance(left, list):
            return _norm(right) in [_norm(v) for v in left]
        return _norm(left) == _norm(right)
    if op == "!=":
        if isinstance(left, list):
            return _norm(right) not in [_norm(v) for v in left]
        return _norm(left) != _norm(right)
    if op in ("<", "<=", ">", ">="):
        a, b = _num(left), _num(right)
        if a is None or b is None:
            return False
        return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]
    a, b = _num(left), _num(right)
    if a is None or b is None:
        return None
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    return a / b if b else None


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def to_source(node: Node) -> str:
    """Canonical text of a node (used to rewrite expressions)."""
    if isinstance(node, Literal):
        if isinstance(node.value, str):
            return '"' + node.value.replace("\\", "\\\\").replace('"', '\\"') + '"'
        if node.value is None:
            return "null"
        if isinstance(node.value, bool):
            return "true" if node.value else "false"
        return str(node.value)
    if isinstance(node, Ref):
        return f"{node.root}.{node.name}" if re.fullmatch(r"[A-Za-z_]\w*", node.name) else f'{node.root}["{node.name}"]'
    if isinstance(node, ListExpr):
        return "[" + ", ".join(to_source(i) for i in node.items) + "]"
    if isinstance(node, Unary):
        return f"not ({to_source(node.operand)})" if node.op == "not" else f"-{to_source(node.operand)}"
    op = {"notin": "not in"}.get(node.op, node.op)
    return f"({to_source(node.left)} {op} {to_source(node.right)})"


def choice_condition(node: Node) -> tuple[str, set[str], bool] | None:
    """If `node` selects values of one question, return (label, values, negated); else None.

    Recognizes `answers.Q == "v"`, `answers.Q in [...]`, `answers.Q contains "v"`, `!=`, `not in`,
    and or-chains of those on the same question.
    """
    if isinstance(node, Binary) and node.op == "or":
        left, right = choice_condition(node.left), choice_condition(node.right)
        if left and right and left[0] == right[0] and not left[2] and not right[2]:
            return left[0], left[1] | right[1], False
        return None
    if isinstance(node, Unary) and node.op == "not":
        inner = choice_condition(node.operand)
        return (inner[0], inner[1], not inner[2]) if inner else None
    if not isinstance(node, Binary) or not isinstance(node.left, Ref) or node.left.root != "answers":
        return None
    label = node.left.name
    if node.op in ("==", "!=", "contains") and isinstance(node.right, Literal):
        return label, {str(_norm(node.right.value))}, node.op == "!="
    if (
        node.op in ("in", "notin")
        and isinstance(node.right, ListExpr)
        and all(isinstance(i, Literal) for i in node.right.items)
    ):
        return label, {str(_norm(i.value)) for i in node.right.items}, node.op == "notin"
    return None
