"""Statements over a set of rows whose SQL text does not grow with the set.

`column.in_([...])` renders one placeholder per value, so every batch size is a new SQL string.
psycopg then parses the string again (a Python tokenizer: milliseconds for a long one) and the
server plans it again, because both cache by text. On PostgreSQL the values go instead as one
array parameter (`column = ANY(:values)`), so the text is the same for every batch: psycopg's
cache hits and, after a few runs, the statement is prepared on the server. SQLite keeps the plain
`IN` (its driver does no such parsing and has no array type).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import any_, bindparam
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.sql.elements import ColumnElement


def one_of(column: Any, values: Iterable[Any], *, postgres: bool) -> ColumnElement[bool]:
    """`column IN values`, as one array parameter on PostgreSQL."""
    items = list(values)
    if postgres:
        return column == any_(bindparam(None, items, type_=ARRAY(column.type)))
    return column.in_(items)
