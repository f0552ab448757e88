"""The policy condition language: table-driven, results checked on a small portfolio frame."""

import polars as pl
import pytest

from arrears.policy.conditions import FeatureType as T
from arrears.policy.conditions import compile_condition

FEATURES = {
    "balance": T.NUMBER,
    "avg_days_late_12m": T.NUMBER,
    "days_past_due": T.NUMBER,
    "country": T.TEXT,
    "segment": T.TEXT,
    "disputed": T.BOOL,
    "tags": T.TEXT_LIST,
}

PORTFOLIO = pl.DataFrame(
    {
        "debtor": ["a", "b", "c", "d"],
        "balance": [20_000, 5_000, None, 10_000],
        "avg_days_late_12m": [25, 30, 40, 20],
        "days_past_due": [0, 1, 30, 31],
        "country": ["CO", "US", "MX", "US"],
        "segment": ["smb", "enterprise", None, "smb"],
        "disputed": [False, True, False, None],
        "tags": [["vip"], [], ["legal", "vip"], None],
    }
)

MATCHES = [
    ("balance >= 10000 and avg_days_late_12m > 20", ["a"]),
    ("balance >= 10000 or avg_days_late_12m > 20", ["a", "b", "c", "d"]),
    ("country in ('CO', 'MX') and not disputed", ["a", "c"]),
    ("country not in ('CO', 'MX')", ["b", "d"]),
    ("'vip' in tags or segment = 'enterprise'", ["a", "b", "c"]),
    ("days_past_due between 1 and 30", ["b", "c"]),
    ("days_past_due not between 1 and 30", ["a", "d"]),
    ("balance is null", ["c"]),
    ("segment is not null and segment <> 'smb'", ["b"]),
    ("balance * 2 > 30000 - 5000", ["a"]),
    ("-balance < -15000", ["a"]),
    ("coalesce(balance, 0) = 0", ["c"]),
    ("abs(days_past_due - 30) <= 1", ["c", "d"]),
    ("greatest(days_past_due, 10) = 10", ["a", "b"]),
    ("disputed = true", ["b"]),
    ("(balance > 1000 and country = 'US') or days_past_due = 30", ["b", "c", "d"]),
    ("NOT disputed AND Country = 'CO'".replace("Country", "country"), ["a"]),
    ("segment = 'it''s'", []),
    # division is decimal: 31 / 30 is above 1 (integer division would make it 1)
    ("days_past_due / 30 > 1", ["d"]),
    ("days_past_due / 30 >= 1", ["c", "d"]),
    ("avg_days_late_12m / 2 = 12.5", ["a"]),
]


@pytest.mark.parametrize(("condition", "expected"), MATCHES)
def test_condition_selects(condition: str, expected: list[str]) -> None:
    compiled = compile_condition(condition, FEATURES)
    assert compiled.ok, compiled.errors
    assert compiled.expr is not None
    assert PORTFOLIO.filter(compiled.expr)["debtor"].to_list() == expected


ERRORS = [
    ("blance > 3", [(1, "unknown feature 'blance'; did you mean 'balance'?")]),
    ("balance > ", [(11, "expected a value, found the end")]),
    ("country > 3", [(9, "cannot compare text with number using '>'")]),
    ("balance + 1", [(1, "a condition must be true or false, not a number")]),
    ('country = "CO"', [(11, "unexpected character '\"' (text goes in single quotes)")]),
    ("foo(1)", [(1, "unknown function 'foo'; known: abs, least, greatest, coalesce")]),
    ("balance = null", [(9, "compare with null using 'is null' / 'is not null'")]),
    ("balance > 1 and", [(16, "expected a value, found the end")]),
    ("(balance > 1", [(13, "expected ), found the end")]),
    ("balance > 1 balance", [(13, "unexpected 'balance'")]),
    ("segment > 'a' and disputed < true", [(28, "bool values have no order")]),
    ("country and disputed", [(9, "expected a condition, not a text")]),
    ("'x' in country", [(5, "'in' takes a list in parentheses or a list feature such as tags")]),
    ("", [(1, "empty expression")]),
    (
        "balanse > 1 and countri = 'CO'",
        [
            (1, "unknown feature 'balanse'; did you mean 'balance'?"),
            (17, "unknown feature 'countri'; did you mean 'country'?"),
        ],
    ),
]


@pytest.mark.parametrize(("condition", "expected"), ERRORS)
def test_condition_errors(condition: str, expected: list[tuple[int, str]]) -> None:
    compiled = compile_condition(condition, FEATURES)
    assert not compiled.ok
    assert [(e.column, e.message) for e in compiled.errors] == expected


def test_features_used_are_reported() -> None:
    compiled = compile_condition("balance > 1 and 'vip' in tags", FEATURES)
    assert compiled.features == {"balance", "tags"}


def test_no_python_eval_is_reachable() -> None:
    compiled = compile_condition("__import__('os').system('true')", FEATURES)
    assert not compiled.ok
