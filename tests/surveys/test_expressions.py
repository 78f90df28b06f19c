"""The condition expression language: parsing, errors with positions, evaluation."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harken.surveys import expressions as ex


@pytest.mark.parametrize(
    ("expression", "answers", "expected"),
    [
        ('answers.Q2 == "1"', {"Q2": "1"}, True),
        ('answers.Q2 == "1"', {"Q2": "2"}, False),
        ("answers.Q2 == 1", {"Q2": "1"}, True),
        ('answers.Q2 != "1"', {}, True),
        ('answers.Q3 in ["1", "2"]', {"Q3": "2"}, True),
        ('answers.Q3 in ["1", "2"]', {"Q3": ["4", "2"]}, True),
        ('answers.Q3 not in ["1", "2"]', {"Q3": ["4"]}, True),
        ('answers.Q3 contains "2"', {"Q3": ["4", "2"]}, True),
        ('answers.Q3 contains "9"', {"Q3": ["4", "2"]}, False),
        ("answers.Q5 >= 18 and answers.Q5 < 65", {"Q5": 30}, True),
        ("answers.Q5 >= 18 and answers.Q5 < 65", {"Q5": 70}, False),
        ('not (answers.Q1 == "1") or answers.Q2 == "2"', {"Q1": "1", "Q2": "2"}, True),
        ('!(answers.Q1 == "1") && answers.Q2 == "2"', {"Q1": "1", "Q2": "2"}, False),
        ("answers.Q5 * 2 > 10", {"Q5": 6}, True),
        ('answers["Q 1"] == "x"', {"Q 1": "x"}, True),
        ("variables.isAdult == true", {}, False),
        ("answers.Q9 > 3", {}, False),
    ],
)
def test_evaluate(expression, answers, expected):
    assert ex.evaluate(expression, answers) is expected


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "answers.",
        "answers.Q1 ==",
        "answers.Q1 === 1",
        "foo.Q1 == 1",
        "(answers.Q1 == 1",
        'answers.Q1 == "x',
        "1 +",
        "answers.Q1 in [1, 2",
        "answers.Q1 @ 2",
    ],
)
def test_bad_expressions_raise_with_message(bad):
    with pytest.raises(ex.ExpressionError) as info:
        ex.parse(bad)
    assert str(info.value)


def test_choice_condition_and_round_trip():
    node = ex.parse('answers.A2 == "1" or answers.A2 in ["2", "3"]')
    assert ex.choice_condition(node) == ("A2", {"1", "2", "3"}, False)
    assert ex.choice_condition(ex.parse('answers.A2 != "8"')) == ("A2", {"8"}, True)
    assert ex.choice_condition(ex.parse("answers.A2 > 3")) is None
    source = ex.to_source(node)
    assert ex.parse(source) == node


@given(st.text(max_size=40))
def test_parser_never_crashes(text):
    with contextlib.suppress(ex.ExpressionError):
        ex.parse(text)
