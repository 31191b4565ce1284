"""The archive ``$filter`` language, translated to SQL.

Grammar (as SuperOffice's OData-like archives take it)::

    filter  := clause ( "and" clause )*
    clause  := column operator [ value | "(" value ( "," value )* ")" ]
    value   := 'quoted text' | number | true | false

Which operator a column takes is not decided here: SuperOffice documents a restriction
type per column (``Column.restriction``) and the operators per type (``sandbox.documented``).
A column without a restriction type cannot be filtered on, and an operator the pages do
not list for the column's type is refused, both with ``FilterError`` (the API's 400).
Operators match without regard to case ("notOneOf" and "NotOneOf" both appear in
SuperOffice's pages). Functions (``startswith()`` …) and ``or`` are refused too.
String comparisons ignore case in every script, as SQL Server's default collation does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sandbox import documented
from sandbox.clock import format_so_datetime, parse_so_datetime, utc_now

ColumnKind = Literal["int", "string", "bool", "date", "datetime", "associate", "list"]


class FilterError(ValueError):
    """The filter (or select/order) cannot be understood; the message says why."""


@dataclass(frozen=True)
class Column:
    """One archive column.

    ``sql`` gives the logical value (what filters compare and ``$output=Logical`` returns);
    ``display_sql`` the display text where it differs (list columns with ids: filter
    values are then ids). ``kind`` shapes output; ``restriction`` and ``sortable`` are
    SuperOffice's documented facts for the column (``restriction`` None: not filterable).

    ``restriction_sql`` gives a column special matching (e.g. "every participant of the
    booking this appointment belongs to"); ``{value}`` in it is the bound parameter.
    """

    name: str
    sql: str
    kind: ColumnKind
    restriction: str | None
    sortable: bool
    display_sql: str | None = None
    restriction_sql: str | None = None

    @property
    def has_ids(self) -> bool:
        return self.kind == "list" and self.display_sql is not None

    @property
    def folded(self) -> bool:
        """Compared as text, ignoring case."""
        return self.kind == "string" or (self.kind == "list" and not self.has_ids)


@dataclass(frozen=True)
class Token:
    kind: Literal["word", "string", "number", "symbol", "punct"]
    text: str


@dataclass
class SqlCondition:
    sql: str
    params: dict[str, Any]
    columns_used: set[str]


TOKEN_PATTERN = re.compile(
    r"""
    (?P<space>\s+)
    |(?P<string>'(?:[^']|'')*')
    |(?P<number>-?\d+(?:\.\d+)?(?![\w/]))
    |(?P<symbol><=|>=|<>|!=|=|<|>)
    |(?P<punct>[(),])
    |(?P<word>[A-Za-z_][\w./:\-]*)
    """,
    re.VERBOSE,
)

# Spellings of one comparison. Whether a column takes a spelling is the documentation's
# call (e.g. "<=" is listed for no type, "equals" for all).
COMPARISONS = {
    "eq": "=",
    "=": "=",
    "equals": "=",
    "date": "=",
    "datetime": "=",
    "ne": "!=",
    "!=": "!=",
    "<>": "!=",
    "unequals": "!=",
    "lt": "<",
    "<": "<",
    "less": "<",
    "le": "<=",
    "<=": "<=",
    "gt": ">",
    ">": ">",
    "greater": ">",
    "ge": ">=",
    ">=": ">=",
    "before": "<",
    "beforetime": "<",
    "to": "<=",
    "after": ">",
    "aftertime": ">",
    "from": ">=",
}
LIST_OPERATORS = {"oneof", "notoneof", "in", "associateisoneof", "associateisnotoneof"}
RANGE_OPERATORS = {"between", "datebetween"}
STRING_OPERATORS = {"is", "isnot", "contains", "notcontains", "begins", "notbegins"}
TODAY_OPERATORS = {"today": "=", "beforetoday": "<", "aftertoday": ">"}
SET_OPERATORS = {"isnull": False, "isnotnull": True}
BY_DAY = {"before", "after", "from", "to", "date"}


def tokenize(*, text: str) -> list[Token]:
    tokens: list[Token] = []
    position = 0
    while position < len(text):
        match = TOKEN_PATTERN.match(text, position)
        if match is None:
            raise FilterError(f"Cannot read the filter at position {position}: {text[position:]!r}")
        position = match.end()
        kind = match.lastgroup
        if kind == "space" or kind is None:
            continue
        value = match.group()
        if kind == "string":
            value = value[1:-1].replace("''", "'")
        tokens.append(Token(kind=kind, text=value))  # type: ignore[arg-type]
    return tokens


def check_operator(*, column: Column, operator: Token) -> str:
    """The operator, lower-cased, if SuperOffice documents it for the column's type."""
    if column.restriction is None:
        raise FilterError(
            f"Column {column.name!r} cannot be used in $filter: SuperOffice documents no"
            " restriction type for it"
        )
    allowed = documented.operators(restriction=column.restriction)
    lowered = operator.text.lower()
    if lowered not in allowed:
        raise FilterError(
            f"Operator {operator.text!r} is not valid for column {column.name!r}"
            f" (restriction type {column.restriction}; valid: {', '.join(sorted(allowed))})"
        )
    return lowered


class FilterParser:
    def __init__(self, *, text: str, columns: Mapping[str, Column], current_associate: int) -> None:
        self.tokens = tokenize(text=text)
        self.position = 0
        self.columns = columns
        self.current_associate = current_associate
        self.params: dict[str, Any] = {}
        self.columns_used: set[str] = set()

    def parse(self) -> SqlCondition:
        if not self.tokens:
            return SqlCondition(sql="1 = 1", params={}, columns_used=set())
        clauses = [self.clause()]
        while self.position < len(self.tokens):
            joiner = self.take()
            if joiner.kind != "word" or joiner.text.lower() != "and":
                raise FilterError(
                    f"Expected 'and' between clauses, found {joiner.text!r} "
                    "(only 'and' combines clauses)"
                )
            clauses.append(self.clause())
        return SqlCondition(
            sql=" AND ".join(f"({clause})" for clause in clauses),
            params=self.params,
            columns_used=self.columns_used,
        )

    def peek(self) -> Token | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self) -> Token:
        token = self.peek()
        if token is None:
            raise FilterError("The filter ends too early")
        self.position += 1
        return token

    def bind(self, *, value: Any) -> str:
        name = f"f{len(self.params)}"
        self.params[name] = value
        return f":{name}"

    def clause(self) -> str:
        column_token = self.take()
        if column_token.kind != "word":
            raise FilterError(f"Expected a column name, found {column_token.text!r}")
        following = self.peek()
        if following is not None and following.text == "(":
            raise FilterError(
                f"The sandbox does not implement OData functions such as {column_token.text}()"
            )
        column = self.columns.get(column_token.text.lower())
        if column is None:
            raise FilterError(f"Unknown column {column_token.text!r} in $filter")
        self.columns_used.add(column.name)
        operator = check_operator(column=column, operator=self.take())
        if column.restriction_sql is not None:
            if COMPARISONS.get(operator) != "=":
                raise FilterError(f"The sandbox matches {column.name!r} with '=' only")
            value = self.value(column=column, token=self.take())
            return column.restriction_sql.replace("{value}", self.bind(value=value))
        if operator == "currentassociate":
            return f"{column.sql} = {self.bind(value=self.current_associate)}"
        if operator == "set":
            return self.set_clause(column=column, wanted=self.truth(token=self.take()))
        if operator in SET_OPERATORS:
            return self.set_clause(column=column, wanted=SET_OPERATORS[operator])
        if operator in TODAY_OPERATORS:
            today = self.bind(value=format_so_datetime(moment=utc_now()))
            return f"date({column.sql}) {TODAY_OPERATORS[operator]} date({today})"
        if operator in LIST_OPERATORS:
            return self.list_clause(column=column, operator=operator)
        if operator in RANGE_OPERATORS:
            return self.range_clause(column=column)
        value = self.value(column=column, token=self.take())
        if operator in STRING_OPERATORS:
            return self.string_clause(column=column, operator=operator, value=value)
        return self.comparison(column=column, operator=operator, value=value)

    def truth(self, *, token: Token) -> bool:
        lowered = token.text.lower()
        if lowered in {"true", "1"}:
            return True
        if lowered in {"false", "0"}:
            return False
        raise FilterError(f"Expected true or false, not {token.text!r}")

    def value(self, *, column: Column, token: Token) -> Any:
        if token.kind in {"punct", "symbol"}:
            raise FilterError(f"Expected a value for {column.name!r}, found {token.text!r}")
        text = token.text
        if column.kind in {"int", "associate"} or column.has_ids:
            try:
                return int(text)
            except ValueError:
                raise FilterError(
                    f"Column {column.name!r} needs a whole number, not {text!r}"
                ) from None
        if column.kind == "bool":
            return int(self.truth(token=token))
        if column.kind in {"date", "datetime"}:
            try:
                moment: datetime = parse_so_datetime(text=text)
            except ValueError:
                raise FilterError(f"Column {column.name!r} needs a date, not {text!r}") from None
            return format_so_datetime(moment=moment)
        if token.kind == "word" and text.lower() == "and":
            raise FilterError(f"Expected a value for {column.name!r}")
        return text

    def values_in_parentheses(self, *, column: Column) -> list[Any]:
        opening = self.take()
        if opening.text != "(":
            raise FilterError(f"Expected '(' after the operator on {column.name!r}")
        values = [self.value(column=column, token=self.take())]
        while True:
            token = self.take()
            if token.text == ")":
                return values
            if token.text != ",":
                raise FilterError(f"Expected ',' or ')' in the list for {column.name!r}")
            values.append(self.value(column=column, token=self.take()))

    def comparison(self, *, column: Column, operator: str, value: Any) -> str:
        sql_operator = COMPARISONS[operator]
        parameter = self.bind(value=value)
        if column.folded:
            left, right = f"so_fold({column.sql})", f"so_fold({parameter})"
        elif column.kind == "date" or operator in BY_DAY:
            left, right = f"date({column.sql})", f"date({parameter})"
        else:
            left, right = column.sql, parameter
        if sql_operator == "!=":
            return f"({column.sql} IS NULL OR {left} != {right})"
        return f"{left} {sql_operator} {right}"

    def string_clause(self, *, column: Column, operator: str, value: Any) -> str:
        parameter = self.bind(value=str(value))
        folded = f"COALESCE(so_fold({column.sql}), '')"
        if operator in {"is", "isnot"}:
            clause = f"{folded} = so_fold({parameter})"
        elif operator in {"contains", "notcontains"}:
            clause = f"instr({folded}, so_fold({parameter})) > 0"
        else:
            clause = f"substr({folded}, 1, length(so_fold({parameter}))) = so_fold({parameter})"
        return f"NOT ({clause})" if operator.startswith("not") or operator == "isnot" else clause

    def set_clause(self, *, column: Column, wanted: bool) -> str:
        if column.folded:
            is_set = f"COALESCE({column.sql}, '') != ''"
        elif column.kind in {"date", "datetime"}:
            is_set = f"{column.sql} IS NOT NULL"
        else:
            is_set = f"COALESCE({column.sql}, 0) != 0"
        return is_set if wanted else f"NOT ({is_set})"

    def range_clause(self, *, column: Column) -> str:
        values = self.values_in_parentheses(column=column)
        if len(values) != 2:
            raise FilterError(f"'between' on {column.name!r} takes exactly two values")
        low, high = (self.bind(value=value) for value in values)
        if column.kind == "date":
            return f"date({column.sql}) BETWEEN date({low}) AND date({high})"
        if column.folded:
            return f"so_fold({column.sql}) BETWEEN so_fold({low}) AND so_fold({high})"
        return f"{column.sql} BETWEEN {low} AND {high}"

    def list_clause(self, *, column: Column, operator: str) -> str:
        values = self.values_in_parentheses(column=column)
        if column.folded:
            placeholders = ", ".join(f"so_fold({self.bind(value=value)})" for value in values)
            clause = f"so_fold({column.sql}) IN ({placeholders})"
        else:
            placeholders = ", ".join(self.bind(value=value) for value in values)
            clause = f"{column.sql} IN ({placeholders})"
        negated = operator in {"notoneof", "associateisnotoneof"}
        return f"NOT ({clause})" if negated else clause


def parse_filter(
    *, text: str, columns: Mapping[str, Column], current_associate: int
) -> SqlCondition:
    """Translate a ``$filter`` into a SQL condition over the given columns (keyed lower-case)."""
    return FilterParser(text=text, columns=columns, current_associate=current_associate).parse()
