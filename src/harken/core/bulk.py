"""Statements over a set of rows whose SQL text does not grow with the set.

`column.in_([...])` renders one placeholder per value, so every batch size is a new SQL string,
and SQLite refuses a statement with more than 32,766 of them (a worker's claim batch of deliveries
to many endpoints can have more ids than that). So the values go as one parameter instead:
on PostgreSQL an array (`column = ANY(:values)`), on SQLite a JSON array read by `json_each`. The
text is the same for every batch, so statement caches hit (psycopg parses a new string with a
Python tokenizer, and the server plans it again).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import String, any_, bindparam, func, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.sql.elements import ColumnElement


def one_of(target: Any, values: Iterable[Any], *, postgres: bool) -> ColumnElement[bool]:
    """`target IN values` with a single bound parameter (values: strings or numbers)."""
    items = list(values)
    if postgres:
        return target == any_(bindparam(None, items, type_=ARRAY(target.type)))
    listed = func.json_each(bindparam(None, json.dumps(items), type_=String())).table_valued("value")
    return target.in_(select(listed.c.value))
