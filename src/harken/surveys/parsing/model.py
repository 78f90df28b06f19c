"""The programmer's intermediate result: questions with options, grids, ranges and routing."""

from __future__ import annotations

from dataclasses import dataclass, field

KINDS = ("single", "multi", "dropdown", "grid_single", "grid_multi", "open", "numeric", "scale", "rank", "text")


@dataclass
class Option:
    label: str
    code: str | None = None
    exclusive: bool = False
    terminate: bool = False
    open: bool = False
    pinned: bool = False


@dataclass
class Condition:
    """`question` answered with one of `codes` (option codes); `negate` flips it."""

    question: str
    codes: list[str]
    negate: bool = False


@dataclass
class Question:
    label: str
    text: str
    kind: str = "open"
    options: list[Option] = field(default_factory=list)
    rows: list[Option] = field(default_factory=list)
    columns: list[Option] = field(default_factory=list)
    min: float | None = None
    max: float | None = None
    instructions: list[str] = field(default_factory=list)
    randomize: bool = False
    show_if: list[Condition] = field(default_factory=list)
    max_selections: int | None = None
    attention: list[str] = field(default_factory=list)
    anchors: dict[str, str] = field(default_factory=dict)
    explicit_kind: bool = False

    def option_codes(self) -> list[str]:
        return [o.code or str(i + 1) for i, o in enumerate(self.options)]


@dataclass
class SkipRule:
    source: str
    codes: list[str]
    target: str  # a question label, or "END"


@dataclass
class Questionnaire:
    title: str | None
    questions: list[Question]
    skips: list[SkipRule] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
