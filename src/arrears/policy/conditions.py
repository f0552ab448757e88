"""The condition language of policies: SQL-like boolean expressions over documented features,
compiled to Polars expressions. Never evaluated with Python ``eval``.

    balance >= 10000 and avg_days_late_12m > 20
    country in ('CO', 'MX') and not disputed
    'vip' in tags or segment = 'enterprise'
    days_past_due between 1 and 30

Grammar (lowest precedence first): ``or``; ``and``; ``not``; comparisons (``= == != <> < <= > >=``,
``[not] in (...)``, ``'x' in list_feature``, ``is [not] null``, ``[not] between a and b``);
``+ -``; ``* /``; unary ``-``; literals (numbers, 'text', true, false, null), feature names,
function calls (``abs``, ``least``, ``greatest``, ``coalesce``) and parentheses.

``compile_condition(text, features)`` returns a :class:`Compiled` with the expression, or all the
problems found, each with its column (1-based) so that ``policy check`` can print
``file:line:column: message``. Unknown features come with a "did you mean".
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

import polars as pl

#: Division is done in decimals with 10 places: ``days_past_due / 30`` is 1.3333333333 at 40
#: days, never the truncated 1 of integer division, and never a float.
_QUOTIENT = pl.Decimal(38, 10)


class FeatureType(StrEnum):
    NUMBER = "number"
    TEXT = "text"
    BOOL = "bool"
    DATE = "date"
    TEXT_LIST = "text list"


@dataclass(frozen=True, slots=True)
class ConditionError:
    column: int  # 1-based position in the condition text
    message: str


@dataclass(frozen=True, slots=True)
class Compiled:
    expr: pl.Expr | None
    errors: tuple[ConditionError, ...] = ()
    features: frozenset[str] = field(default_factory=frozenset)

    @property
    def ok(self) -> bool:
        return not self.errors


class _Fail(Exception):
    def __init__(self, column: int, message: str) -> None:
        self.error = ConditionError(column, message)


_TOKEN = re.compile(
    r"\s*(?:(?P<number>\d+(?:\.\d+)?)|(?P<string>'(?:[^']|'')*')|(?P<name>[A-Za-z_]\w*)"
    r"|(?P<op><=|>=|<>|!=|==|[=<>+\-*/(),])|(?P<bad>\S))"
)
KEYWORDS = {"and", "or", "not", "in", "is", "null", "true", "false", "between"}
FUNCTIONS = {"abs": 1, "least": -1, "greatest": -1, "coalesce": -1}


@dataclass(frozen=True, slots=True)
class _Tok:
    kind: str  # number | string | name | keyword | op | end
    text: str
    column: int


def _tokenize(text: str) -> list[_Tok]:
    tokens: list[_Tok] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:  # only trailing blanks are left
            break
        kind = m.lastgroup or "bad"
        value = m.group(kind)
        column = m.start(kind) + 1
        if kind == "bad":
            hint = " (text goes in single quotes)" if value == '"' else ""
            raise _Fail(column, f"unexpected character {value!r}{hint}")
        if kind == "name" and value.lower() in KEYWORDS:
            kind, value = "keyword", value.lower()
        tokens.append(_Tok(kind, value, column))
        pos = m.end()
    tokens.append(_Tok("end", "", len(text) + 1))
    return tokens


@dataclass(frozen=True, slots=True)
class _Typed:
    expr: pl.Expr
    type: FeatureType | None  # None: the null literal
    unknown: bool = False  # an unknown feature, already reported: no further type errors
    #: a debtor attribute whose type is not known here (``attr_<name>``, stored as text):
    #: read as what it is compared with (``attr_income > 2000``: a number)
    loose: bool = False


#: Debtor attributes are features named ``attr_<name>`` (imported ``attr_<name>`` columns).
ATTRIBUTE_PREFIX = "attr_"


def attribute_value(expr: pl.Expr, kind: FeatureType | None) -> pl.Expr:
    """A debtor attribute's stored text read as ``kind``, the way the importer writes a
    declared type (numbers with ``.``, ISO dates, ``true``/``false``); unreadable: null."""
    if kind is FeatureType.NUMBER:
        return expr.cast(pl.Decimal(38, 10), strict=False)
    if kind is FeatureType.DATE:
        return expr.str.to_date("%Y-%m-%d", strict=False)
    if kind is FeatureType.BOOL:
        return expr.replace_strict(
            {"true": True, "false": False}, default=None, return_dtype=pl.Boolean
        )
    return expr


def _as(value: _Typed, kind: FeatureType | None) -> _Typed:
    """A loose attribute read as ``kind`` (a typed value stays as it is)."""
    if not value.loose or kind in (None, FeatureType.TEXT, FeatureType.TEXT_LIST):
        return value
    return _Typed(attribute_value(value.expr, kind), kind)


_COMPARE: dict[str, Callable[[pl.Expr, pl.Expr], pl.Expr]] = {
    "=": lambda a, b: a == b,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<>": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}
_ORDERED = {FeatureType.NUMBER, FeatureType.DATE, FeatureType.TEXT}


class _Parser:
    def __init__(self, text: str, features: Mapping[str, FeatureType]) -> None:
        self.tokens = _tokenize(text)
        self.i = 0
        self.features = features
        self.used: set[str] = set()
        self.errors: list[ConditionError] = []

    # -- token helpers -------------------------------------------------------------------------
    @property
    def tok(self) -> _Tok:
        return self.tokens[self.i]

    def _is(self, kind: str, text: str | None = None) -> bool:
        return self.tok.kind == kind and (text is None or self.tok.text == text)

    def _take(self, kind: str, text: str | None = None) -> _Tok:
        if not self._is(kind, text):
            found = "the end" if self.tok.kind == "end" else repr(self.tok.text)
            raise _Fail(self.tok.column, f"expected {text or kind}, found {found}")
        tok = self.tok
        self.i += 1
        return tok

    # -- grammar -------------------------------------------------------------------------------
    def parse(self) -> _Typed:
        result = self._or()
        if not self._is("end"):
            raise _Fail(self.tok.column, f"unexpected {self.tok.text!r}")
        return result

    def _or(self) -> _Typed:
        left = self._and()
        while self._is("keyword", "or"):
            col = self._take("keyword").column
            right = self._and()
            left = _Typed(self._bool(left, col) | self._bool(right, col), FeatureType.BOOL)
        return left

    def _and(self) -> _Typed:
        left = self._not()
        while self._is("keyword", "and"):
            col = self._take("keyword").column
            right = self._not()
            left = _Typed(self._bool(left, col) & self._bool(right, col), FeatureType.BOOL)
        return left

    def _not(self) -> _Typed:
        if self._is("keyword", "not"):
            col = self._take("keyword").column
            return _Typed(~self._bool(self._not(), col), FeatureType.BOOL)
        return self._comparison()

    def _bool(self, value: _Typed, column: int) -> pl.Expr:
        value = _as(value, FeatureType.BOOL)
        if value.type not in (FeatureType.BOOL, None) and not value.unknown:
            self.errors.append(ConditionError(column, f"expected a condition, not a {value.type}"))
        return value.expr

    def _comparison(self) -> _Typed:
        left = self._additive()
        tok = self.tok
        if tok.kind == "op" and tok.text in _COMPARE:
            self.i += 1
            right = self._additive()
            left, right = _as(left, right.type), _as(right, left.type)
            self._check_comparable(left, right, tok)
            return _Typed(_COMPARE[tok.text](left.expr, right.expr), FeatureType.BOOL)
        negate = False
        if self._is("keyword", "not") and self.tokens[self.i + 1].text in ("in", "between"):
            self.i += 1
            negate = True
        if self._is("keyword", "in"):
            result = self._in(left)
        elif self._is("keyword", "between"):
            result = self._between(left)
        elif self._is("keyword", "is") and not negate:
            self.i += 1
            is_not = self._is("keyword", "not")
            if is_not:
                self.i += 1
            self._take("keyword", "null")
            return _Typed(
                left.expr.is_not_null() if is_not else left.expr.is_null(), FeatureType.BOOL
            )
        else:
            return left
        return _Typed(~result.expr if negate else result.expr, FeatureType.BOOL)

    def _in(self, left: _Typed) -> _Typed:
        col = self._take("keyword", "in").column
        if not self._is("op", "("):
            right = self._additive()
            if right.type is not FeatureType.TEXT_LIST and not right.unknown:
                raise _Fail(col, "'in' takes a list in parentheses or a list feature such as tags")
            return _Typed(right.expr.list.contains(left.expr), FeatureType.BOOL)
        self._take("op", "(")
        items = [self._additive()]
        while self._is("op", ","):
            self.i += 1
            items.append(self._additive())
        self._take("op", ")")
        left = _as(left, items[0].type)
        items = [_as(item, left.type) for item in items]
        for item in items:
            self._check_comparable(left, item, _Tok("op", "in", col))
        expr = pl.lit(False)
        for item in items:
            expr = expr | (left.expr == item.expr)
        return _Typed(expr, FeatureType.BOOL)

    def _between(self, left: _Typed) -> _Typed:
        tok = self._take("keyword", "between")
        low = self._additive()
        self._take("keyword", "and")
        high = self._additive()
        left = _as(left, low.type)
        low, high = _as(low, left.type), _as(high, left.type)
        self._check_comparable(left, low, tok)
        self._check_comparable(left, high, tok)
        return _Typed((left.expr >= low.expr) & (left.expr <= high.expr), FeatureType.BOOL)

    def _check_comparable(self, a: _Typed, b: _Typed, op: _Tok) -> None:
        if a.unknown or b.unknown:
            return
        if a.type is None or b.type is None:
            if op.text not in ("=", "==", "!=", "<>", "in"):
                self.errors.append(ConditionError(op.column, "null can only be compared with ="))
            else:
                self.errors.append(
                    ConditionError(op.column, "compare with null using 'is null' / 'is not null'")
                )
            return
        if a.type != b.type:
            self.errors.append(
                ConditionError(
                    op.column, f"cannot compare {a.type} with {b.type} using {op.text!r}"
                )
            )
        elif op.text in ("<", "<=", ">", ">=", "between") and a.type not in _ORDERED:
            self.errors.append(ConditionError(op.column, f"{a.type} values have no order"))

    def _additive(self) -> _Typed:
        left = self._term()
        while self._is("op", "+") or self._is("op", "-"):
            tok = self._take("op")
            right = self._term()
            left, right = _as(left, FeatureType.NUMBER), _as(right, FeatureType.NUMBER)
            self._numbers(left, right, tok)
            expr = left.expr + right.expr if tok.text == "+" else left.expr - right.expr
            left = _Typed(expr, FeatureType.NUMBER)
        return left

    def _term(self) -> _Typed:
        left = self._unary()
        while self._is("op", "*") or self._is("op", "/"):
            tok = self._take("op")
            right = self._unary()
            left, right = _as(left, FeatureType.NUMBER), _as(right, FeatureType.NUMBER)
            self._numbers(left, right, tok)
            if tok.text == "*":
                expr = left.expr * right.expr
            else:  # exact decimal division (integer operands would otherwise truncate)
                expr = left.expr.cast(_QUOTIENT) / right.expr.cast(_QUOTIENT)
            left = _Typed(expr, FeatureType.NUMBER)
        return left

    def _numbers(self, a: _Typed, b: _Typed, tok: _Tok) -> None:
        if a.unknown or b.unknown:
            return
        if a.type is not FeatureType.NUMBER or b.type is not FeatureType.NUMBER:
            self.errors.append(ConditionError(tok.column, f"{tok.text!r} needs numbers"))

    def _unary(self) -> _Typed:
        if self._is("op", "-"):
            tok = self._take("op")
            value = _as(self._unary(), FeatureType.NUMBER)
            if value.type is not FeatureType.NUMBER and not value.unknown:
                self.errors.append(ConditionError(tok.column, "'-' needs a number"))
            return _Typed(-value.expr, FeatureType.NUMBER)
        return self._primary()

    def _primary(self) -> _Typed:
        tok = self.tok
        if tok.kind == "number":
            self.i += 1
            return _Typed(pl.lit(Decimal(tok.text)), FeatureType.NUMBER)
        if tok.kind == "string":
            self.i += 1
            return _Typed(pl.lit(tok.text[1:-1].replace("''", "'")), FeatureType.TEXT)
        if tok.kind == "keyword" and tok.text in ("true", "false"):
            self.i += 1
            return _Typed(pl.lit(tok.text == "true"), FeatureType.BOOL)
        if tok.kind == "keyword" and tok.text == "null":
            self.i += 1
            return _Typed(pl.lit(None), None)
        if self._is("op", "("):
            self.i += 1
            inner = self._or()
            self._take("op", ")")
            return inner
        if tok.kind == "name":
            self.i += 1
            if self._is("op", "("):
                return self._call(tok)
            return self._feature(tok)
        found = "the end" if tok.kind == "end" else repr(tok.text)
        raise _Fail(tok.column, f"expected a value, found {found}")

    def _feature(self, tok: _Tok) -> _Typed:
        name = tok.text
        attribute = name.startswith(ATTRIBUTE_PREFIX) and len(name) > len(ATTRIBUTE_PREFIX)
        if attribute:  # stored as text: read as its declared type, else as compared
            self.used.add(name)
            if name in self.features:
                kind = self.features[name]
                return _Typed(attribute_value(pl.col(name), kind), kind)
            return _Typed(pl.col(name), FeatureType.TEXT, loose=True)
        if name not in self.features:
            close = difflib.get_close_matches(name, list(self.features), n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            self.errors.append(ConditionError(tok.column, f"unknown feature {name!r}{hint}"))
            return _Typed(pl.lit(None), None, unknown=True)
        self.used.add(name)
        return _Typed(pl.col(name), self.features[name])

    def _call(self, tok: _Tok) -> _Typed:
        name = tok.text.lower()
        self._take("op", "(")
        args = [] if self._is("op", ")") else [self._additive()]
        while self._is("op", ","):
            self.i += 1
            args.append(self._additive())
        self._take("op", ")")
        if name not in FUNCTIONS:
            raise _Fail(tok.column, f"unknown function {tok.text!r}; known: {', '.join(FUNCTIONS)}")
        arity = FUNCTIONS[name]
        if (arity >= 0 and len(args) != arity) or not args:
            raise _Fail(
                tok.column, f"{name}() takes {arity if arity >= 0 else 'one or more'} arguments"
            )
        exprs = [a.expr for a in args]
        kind = next((a.type for a in args if a.type is not None), None)
        if name == "abs":
            return _Typed(exprs[0].abs(), FeatureType.NUMBER)
        if name == "least":
            return _Typed(pl.min_horizontal(exprs), kind)
        if name == "greatest":
            return _Typed(pl.max_horizontal(exprs), kind)
        return _Typed(pl.coalesce(exprs), kind)


def compile_condition(text: str, features: Mapping[str, FeatureType]) -> Compiled:
    """Compile a true/false condition; all problems are returned, none raised."""
    return _compile(text, features, FeatureType.BOOL)


def compile_number(text: str, features: Mapping[str, FeatureType]) -> Compiled:
    """Compile a numeric expression (such as the worklist priority)."""
    return _compile(text, features, FeatureType.NUMBER)


def _compile(text: str, features: Mapping[str, FeatureType], expect: FeatureType) -> Compiled:
    if not text.strip():
        return Compiled(None, (ConditionError(1, "empty expression"),))
    try:
        parser = _Parser(text, features)
        result = parser.parse()
    except _Fail as fail:
        return Compiled(None, (fail.error,))
    result = _as(result, expect)
    errors = list(parser.errors)
    if result.type not in (expect, None) and not result.unknown and not errors:
        wanted = (
            "a condition must be true or false"
            if expect is FeatureType.BOOL
            else (f"expected a {expect}")
        )
        errors.append(ConditionError(1, f"{wanted}, not a {result.type}"))
    if errors:
        return Compiled(None, tuple(errors), frozenset(parser.used))
    expr = result.expr.fill_null(False) if expect is FeatureType.BOOL else result.expr
    return Compiled(expr, (), frozenset(parser.used))
