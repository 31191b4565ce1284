"""The archive ``$filter`` language, translated to SQL.

Grammar (as SuperOffice's OData-like archives take it)::

    filter  := clause ( "and" clause )*
    clause  := column operator [ value | "(" value ( "," value )* ")" ]
    value   := 'quoted text' | number | true | false

Operators: ``eq``/``=``, ``ne``/``<>``, ``lt``/``<``, ``le``/``<=``, ``gt``/``>``,
``ge``/``>=``, ``is``, ``isNot``, ``contains``, ``notContains``, ``begins``,
``notBegins``, ``set true|false``, ``oneOf (…)``, ``notOneOf (…)``, ``in (…)``,
``associateIsOneOf (…)``, ``associateIsNotOneOf (…)``, ``currentAssociate``,
``between ('a','b')``, ``before``, ``after``, ``beforeTime``, ``afterTime``.

Anything else (``or``, functions such as ``startswith()``, unknown columns, a value that
does not fit the column's type) raises ``FilterError``, which the API answers with 400.
String comparisons ignore case in every script, as SQL Server's default collation does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sandbox.clock import format_so_datetime, parse_so_datetime

ColumnKind = Literal["int", "string", "bool", "date", "datetime", "associate", "list"]


class FilterError(ValueError):
    """The filter (or select/order) cannot be understood; the message says why."""


@dataclass(frozen=True)
class Column:
    """One archive column: the SQL giving its raw value and the type that shapes output.

    ``restriction_sql`` marks a restriction-only column with special matching (e.g. "every
    participant of the booking this appointment belongs to"); it takes ``=`` only, and
    ``{value}`` in it is replaced by the bound parameter.
    """

    name: str
    sql: str
    kind: ColumnKind
    restriction_sql: str | None = None

    @property
    def selectable(self) -> bool:
        return self.restriction_sql is None


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
    |(?P<symbol><=|>=|<>|=|<|>)
    |(?P<punct>[(),])
    |(?P<word>[A-Za-z_][\w./:\-]*)
    """,
    re.VERBOSE,
)

COMPARISONS = {
    "eq": "=",
    "=": "=",
    "ne": "!=",
    "<>": "!=",
    "lt": "<",
    "<": "<",
    "le": "<=",
    "<=": "<=",
    "gt": ">",
    ">": ">",
    "ge": ">=",
    ">=": ">=",
}
LIST_OPERATORS = {"oneof", "notoneof", "in", "associateisoneof", "associateisnotoneof", "between"}
STRING_OPERATORS = {"is", "isnot", "contains", "notcontains", "begins", "notbegins"}
DATE_OPERATORS = {"before", "after", "beforetime", "aftertime"}
UNARY_OPERATORS = {"currentassociate"}
KNOWN_OPERATORS = (
    set(COMPARISONS)
    | LIST_OPERATORS
    | STRING_OPERATORS
    | DATE_OPERATORS
    | UNARY_OPERATORS
    | {"set"}
)


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
            raise FilterError(f"Functions such as {column_token.text}() are not supported")
        column = self.columns.get(column_token.text.lower())
        if column is None:
            raise FilterError(f"Unknown column {column_token.text!r}")
        self.columns_used.add(column.name)
        operator_token = self.take()
        operator = operator_token.text.lower()
        if operator not in KNOWN_OPERATORS:
            raise FilterError(f"Unsupported operator {operator_token.text!r}")
        if column.restriction_sql is not None:
            if operator not in {"eq", "="}:
                raise FilterError(f"Column {column.name!r} takes the '=' operator only")
            value = self.value(column=column, token=self.take())
            return column.restriction_sql.replace("{value}", self.bind(value=value))
        if operator in UNARY_OPERATORS:
            return self.current_associate_clause(column=column)
        if operator == "set":
            return self.set_clause(column=column)
        if operator in LIST_OPERATORS:
            return self.list_clause(column=column, operator=operator)
        value = self.value(column=column, token=self.take())
        if operator in COMPARISONS:
            return self.comparison(column=column, sql_operator=COMPARISONS[operator], value=value)
        if operator in STRING_OPERATORS:
            return self.string_clause(column=column, operator=operator, value=value)
        return self.date_clause(column=column, operator=operator, value=value)

    def value(self, *, column: Column, token: Token) -> Any:
        if token.kind in {"punct", "symbol"}:
            raise FilterError(f"Expected a value for {column.name!r}, found {token.text!r}")
        text = token.text
        if column.kind in {"int", "associate"}:
            try:
                return int(text)
            except ValueError:
                raise FilterError(
                    f"Column {column.name!r} needs a whole number, not {text!r}"
                ) from None
        if column.kind == "bool":
            lowered = text.lower()
            if lowered in {"true", "1"}:
                return 1
            if lowered in {"false", "0"}:
                return 0
            raise FilterError(f"Column {column.name!r} needs true or false, not {text!r}")
        if column.kind in {"date", "datetime"}:
            try:
                moment: datetime = parse_so_datetime(text=text)
            except ValueError:
                raise FilterError(f"Column {column.name!r} needs a date, not {text!r}") from None
            return format_so_datetime(moment=moment)
        if token.kind == "word" and text.lower() in {"and"}:
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

    def folded(self, *, column: Column) -> bool:
        return column.kind in {"string", "list"}

    def comparison(self, *, column: Column, sql_operator: str, value: Any) -> str:
        parameter = self.bind(value=value)
        if self.folded(column=column):
            left, right = f"so_fold({column.sql})", f"so_fold({parameter})"
        elif column.kind == "date" and sql_operator in {"=", "!="}:
            left, right = f"date({column.sql})", f"date({parameter})"
        else:
            left, right = column.sql, parameter
        if sql_operator == "!=":
            return f"({column.sql} IS NULL OR {left} != {right})"
        return f"{left} {sql_operator} {right}"

    def string_clause(self, *, column: Column, operator: str, value: Any) -> str:
        if column.kind not in {"string", "list"}:
            raise FilterError(f"Operator {operator!r} needs a text column; {column.name!r} is not")
        parameter = self.bind(value=str(value))
        folded = f"COALESCE(so_fold({column.sql}), '')"
        if operator in {"is", "isnot"}:
            clause = f"{folded} = so_fold({parameter})"
        elif operator in {"contains", "notcontains"}:
            clause = f"instr({folded}, so_fold({parameter})) > 0"
        else:
            clause = f"substr({folded}, 1, length(so_fold({parameter}))) = so_fold({parameter})"
        return f"NOT ({clause})" if operator.startswith("not") or operator == "isnot" else clause

    def date_clause(self, *, column: Column, operator: str, value: Any) -> str:
        if column.kind not in {"date", "datetime"}:
            raise FilterError(f"Operator {operator!r} needs a date column; {column.name!r} is not")
        parameter = self.bind(value=value)
        if operator == "before":
            return f"date({column.sql}) < date({parameter})"
        if operator == "after":
            return f"date({column.sql}) > date({parameter})"
        if operator == "beforetime":
            return f"{column.sql} < {parameter}"
        return f"{column.sql} > {parameter}"

    def set_clause(self, *, column: Column) -> str:
        token = self.take()
        wanted = token.text.lower()
        if wanted not in {"true", "false"}:
            raise FilterError(f"'set' takes true or false, not {token.text!r}")
        if column.kind in {"string", "list"}:
            is_set = f"COALESCE({column.sql}, '') != ''"
        elif column.kind in {"date", "datetime"}:
            is_set = f"{column.sql} IS NOT NULL"
        else:
            is_set = f"COALESCE({column.sql}, 0) != 0"
        return is_set if wanted == "true" else f"NOT ({is_set})"

    def list_clause(self, *, column: Column, operator: str) -> str:
        if operator.startswith("associate") and column.kind not in {"associate", "int"}:
            raise FilterError(f"{operator!r} needs an associate column; {column.name!r} is not")
        values = self.values_in_parentheses(column=column)
        if operator == "between":
            if len(values) != 2:
                raise FilterError("'between' takes exactly two values")
            low, high = (self.bind(value=value) for value in values)
            if column.kind == "date":
                return f"date({column.sql}) BETWEEN date({low}) AND date({high})"
            if self.folded(column=column):
                return f"so_fold({column.sql}) BETWEEN so_fold({low}) AND so_fold({high})"
            return f"{column.sql} BETWEEN {low} AND {high}"
        if self.folded(column=column):
            placeholders = ", ".join(f"so_fold({self.bind(value=value)})" for value in values)
            clause = f"so_fold({column.sql}) IN ({placeholders})"
        else:
            placeholders = ", ".join(self.bind(value=value) for value in values)
            clause = f"{column.sql} IN ({placeholders})"
        negated = operator in {"notoneof", "associateisnotoneof"}
        return f"NOT ({clause})" if negated else clause

    def current_associate_clause(self, *, column: Column) -> str:
        if column.kind not in {"associate", "int"}:
            raise FilterError(
                f"'currentAssociate' needs an associate column; {column.name!r} is not"
            )
        return f"{column.sql} = {self.bind(value=self.current_associate)}"


def parse_filter(
    *, text: str, columns: Mapping[str, Column], current_associate: int
) -> SqlCondition:
    """Translate a ``$filter`` into a SQL condition over the given columns (keyed lower-case)."""
    return FilterParser(text=text, columns=columns, current_associate=current_associate).parse()
