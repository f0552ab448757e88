"""The reference allocation rule: explicit allocations, then oldest due first."""

from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from arrears.domain.allocation import AllocationRule, Applied, OpenInstalment, allocate

D = date(2026, 1, 1)


def inst(invoice: str, due_day: int, open_minor: int, seq: int = 1) -> OpenInstalment:
    return OpenInstalment(invoice, seq, D + timedelta(days=due_day), D, open_minor)


def test_oldest_due_first_then_credit() -> None:
    result = allocate(250, [inst("B", 20, 100), inst("A", 10, 100)])
    assert result.applied == (Applied("A", 1, 100), Applied("B", 1, 100))
    assert result.unallocated_minor == 50


def test_partial_payment_covers_oldest_only_partly() -> None:
    result = allocate(60, [inst("B", 20, 100), inst("A", 10, 100)])
    assert result.applied == (Applied("A", 1, 60),)
    assert result.unallocated_minor == 0


def test_explicit_allocation_first_then_rule() -> None:
    result = allocate(
        150, [inst("A", 10, 100), inst("B", 20, 100)], explicit=[Applied("B", 1, 100)]
    )
    assert result.applied == (Applied("B", 1, 100), Applied("A", 1, 50))


def test_explicit_allocation_exceeding_instalment_is_a_problem_and_applies_nothing() -> None:
    result = allocate(150, [inst("A", 10, 100)], explicit=[Applied("A", 1, 120)])
    assert result.applied == ()
    assert result.unallocated_minor == 150
    assert result.problems == ("allocation of 120 to A/1 exceeds its open balance 100",)


def test_explicit_allocations_exceeding_payment_are_a_problem() -> None:
    result = allocate(
        100,
        [inst("A", 10, 100), inst("B", 10, 100)],
        explicit=[Applied("A", 1, 60), Applied("B", 1, 60)],
    )
    assert result.problems == ("allocations exceed the payment amount",)


def test_rule_none_keeps_credit() -> None:
    result = allocate(100, [inst("A", 10, 100)], rule=AllocationRule.NONE)
    assert result.applied == ()
    assert result.unallocated_minor == 100


instalments = st.lists(
    st.builds(
        inst,
        st.text("ABCDEFGH", min_size=1, max_size=3),
        st.integers(-100, 100),
        st.integers(1, 10_000),
        st.integers(1, 3),
    ),
    max_size=12,
    unique_by=lambda i: (i.invoice, i.seq),
)


@given(st.integers(1, 100_000), instalments, st.sampled_from(list(AllocationRule)))
def test_allocation_invariants(
    amount: int, open_instalments: list[OpenInstalment], rule: AllocationRule
) -> None:
    result = allocate(amount, open_instalments, rule=rule)
    open_by_key = {(i.invoice, i.seq): i.open_minor for i in open_instalments}
    applied_total = 0
    for a in result.applied:
        assert 0 < a.amount_minor <= open_by_key[(a.invoice, a.seq)]
        applied_total += a.amount_minor
    assert applied_total <= amount
    assert result.unallocated_minor == amount - applied_total
    if rule is not AllocationRule.NONE:
        # credit is left only when everything open is paid
        assert result.unallocated_minor == max(0, amount - sum(open_by_key.values()))
