"""Scenario tests of the engine: a small portfolio, a policy and the expected decisions day by day,
written out in full (golden). Each line is ``<day> <debtor> <what happened>``; days with nothing
to do print nothing. The engine's decisions are applied to the book the way ``arrears run``
commits them (``cycle_book.Book.apply``)."""

from __future__ import annotations

from datetime import date, timedelta
from textwrap import dedent

import polars as pl
import pytest

from arrears.cycle.compiled import CompiledPolicy, compile_policy
from arrears.cycle.decide import decide
from arrears.policy.loading import parse_policy
from cycle_book import Book

POLICY = """
policy: scenarios
buckets: [30, 60]
cure_tolerance: 1.00
catch_up_days: 3
stages:
  - {name: clear}
  - {name: preventive, when: days_past_due <= 0 and days_to_due <= 5}
  - {name: early, when: days_past_due between 1 and 30}
  - {name: late, when: days_past_due >= 31}
  - {name: legal, when: days_past_due >= 60, approval: true}
segments:
  - {name: big, when: balance >= 10000}
  - {name: standard}
cadences:
  - stage: preventive
    steps:
      - {id: reminder, offset: -3, action: send, channel: email, template: reminder}
  - stage: early
    steps:
      - {id: notice-1, offset: 1, action: send, channel: email, template: notice}
      - {id: notice-7, offset: 7, action: send, channel: email, template: notice}
      - id: call
        offset: 10
        action: call_task
        when: overdue_balance >= 500
        repeat: {every: 5, times: 2}
  - stage: late
    steps:
      - {id: letter, offset: 31, action: send, channel: letter, template: final}
      - {id: fee, offset: 35, action: late_fee, fee: percentage, rate: 1.5}
  - stage: legal
    steps:
      - {id: tell-owner, offset: 0, anchor: stage_entered, action: notify_owner}
on_broken_promise:           # a broken (or partly kept) promise: a call first thing next day
  - {id: call-broken, offset: 1, action: call_task, priority: 1}
contact_rules:               # these scenarios are about cases: contact any day, no caps
  default: {hours: {sun: {start: "08:00", end: "20:00"}}, caps: [], holidays_closed: false}
experiments:
  - name: sms-first
    segment: big
    stage: early
    share: 0.5
    steps:
      - {id: sms-1, offset: 1, action: send, channel: sms, template: notice_sms}
"""


def compiled(text: str = POLICY) -> CompiledPolicy:
    policy, _, problems = parse_policy(text, "scenarios.yaml")
    assert policy is not None and problems == []
    return compile_policy(policy)


P = compiled()


def d(month: int, day: int) -> date:
    return date(2026, month, day)


def golden(text: str) -> list[str]:
    return dedent(text).strip().splitlines()


def one_invoice(amount: str = "1000.00") -> tuple[Book, int, int]:
    book = Book()
    debtor = book.debtor("ACME")
    return book, debtor, book.invoice(debtor, amount, d(1, 31))


def test_reminder_before_due_then_escalation_through_stages_to_an_approval() -> None:
    book, debtor, _ = one_invoice()
    log = book.days(P, d(1, 20), d(4, 2))
    book.approve(debtor, "legal", d(4, 2))
    log += book.days(P, d(4, 3), d(4, 5))
    assert log == golden("""
        2026-01-26 ACME case open preventive
        2026-01-28 ACME executed reminder
        2026-02-01 ACME case stage early
        2026-02-01 ACME executed notice-1
        2026-02-07 ACME executed notice-7
        2026-02-10 ACME executed call
        2026-02-10 ACME task call opened by call (priority 3)
        2026-02-15 ACME executed call#1
        2026-02-20 ACME executed call#2
        2026-03-03 ACME case stage late
        2026-03-03 ACME executed letter
        2026-03-07 ACME executed fee
        2026-04-01 ACME case update (awaiting approval: legal)
        2026-04-03 ACME case stage legal
        2026-04-03 ACME executed tell-owner
        2026-04-03 ACME task notify opened by tell-owner (priority 3)
    """)


def test_late_fee_is_the_policy_percentage_of_the_overdue_balance() -> None:
    book, _, _ = one_invoice("1234.56")
    book.days(P, d(3, 3), d(3, 6))
    fee = decide(book.input(d(3, 7)), P, d(3, 7)).steps.filter(pl.col("step_id") == "fee")
    assert fee["amount_minor"].to_list() == [1852]  # 1.5 % of 1,234.56 = 18.5184


def test_a_kept_promise_pauses_the_case_until_it_is_paid() -> None:
    book, debtor, invoice = one_invoice()
    book.promise(debtor, "1000.00", made_on=d(2, 3), due_on=d(2, 10))
    book.pay(invoice, "1000.00", d(2, 9))
    assert book.days(P, d(1, 25), d(2, 20)) == golden("""
        2026-01-26 ACME case open preventive
        2026-01-28 ACME executed reminder
        2026-02-01 ACME case stage early
        2026-02-01 ACME executed notice-1
        2026-02-03 ACME case update paused by promise until 2026-02-14
        2026-02-09 ACME case close cured
        2026-02-14 ACME promise 1 kept
    """)


def test_a_partly_kept_promise_ends_the_pause_after_its_grace_and_collection_resumes() -> None:
    # 400.00 of 1,000.00 paid by the date plus grace: partly kept (40 %), found on the day after
    # the grace; the case resumes at its stage and the policy's on_broken_promise call runs the
    # next day, at priority 1
    book, debtor, invoice = one_invoice()
    book.promise(debtor, "1000.00", made_on=d(2, 3), due_on=d(2, 10))
    book.pay(invoice, "400.00", d(2, 9))
    assert book.days(P, d(1, 25), d(2, 20)) == golden("""
        2026-01-26 ACME case open preventive
        2026-01-28 ACME executed reminder
        2026-02-01 ACME case stage early
        2026-02-01 ACME executed notice-1
        2026-02-03 ACME case update paused by promise until 2026-02-14
        2026-02-14 ACME case update
        2026-02-14 ACME skipped call (came due 2026-02-10, 4 days ago, beyond catch_up_days 3)
        2026-02-14 ACME skipped notice-7 (came due 2026-02-07, 7 days ago, beyond catch_up_days 3)
        2026-02-14 ACME promise 1 partial 40 %
        2026-02-15 ACME executed call#1
        2026-02-15 ACME executed call-broken#20260214
        2026-02-15 ACME task call opened by call-broken#20260214 (priority 1)
        2026-02-20 ACME executed call#2
    """)
    decisions = decide(book.input(d(2, 20)), P, d(2, 20))
    features = decisions.features
    assert features.select("promises_made", "promises_kept", "promises_broken").row(0) == (1, 0, 1)
    [outcome] = decisions.promises.select("outcome", "kept_minor", "found_on").rows()
    assert outcome == ("partial", 40000, d(2, 14))


def test_a_broken_promise_resumes_the_case_and_calls_the_next_day_at_high_priority() -> None:
    # nothing paid: broken, found on the day after the date plus the policy's grace (3 days,
    # longer than the promise's own 0); the on_broken_promise call comes the next day at
    # priority 1, once (running the day again, or the days after, adds nothing)
    book, debtor, _ = one_invoice()
    book.promise(debtor, "1000.00", made_on=d(2, 3), due_on=d(2, 10), grace=0)
    assert book.days(P, d(1, 25), d(2, 22)) == golden("""
        2026-01-26 ACME case open preventive
        2026-01-28 ACME executed reminder
        2026-02-01 ACME case stage early
        2026-02-01 ACME executed notice-1
        2026-02-03 ACME case update paused by promise until 2026-02-14
        2026-02-14 ACME case update
        2026-02-14 ACME skipped call (came due 2026-02-10, 4 days ago, beyond catch_up_days 3)
        2026-02-14 ACME skipped notice-7 (came due 2026-02-07, 7 days ago, beyond catch_up_days 3)
        2026-02-14 ACME promise 1 broken
        2026-02-15 ACME executed call#1
        2026-02-15 ACME executed call-broken#20260214
        2026-02-15 ACME task call opened by call-broken#20260214 (priority 1)
        2026-02-20 ACME executed call#2
    """)
    [task] = [s for s in book.steps_done if s["step_id"] == "call-broken"]
    assert (task["on"], task["status"]) == (d(2, 15), "executed")
    followup = decide(book.input(d(2, 15)), P, d(2, 15))  # the day again
    assert followup.steps.is_empty()  # recorded: nothing runs twice
    assert book.days(P, d(2, 22), d(2, 22)) == []
    priority = P.program.filter(pl.col("step_id") == "call-broken")["task_priority"].unique()
    assert priority.to_list() == [1]


def test_a_partial_payment_within_tolerance_cures_and_a_new_overdue_invoice_reopens() -> None:
    # 0.50 left is within the cure tolerance (1.00): the case closes. The new invoice falls
    # overdue within the reopen window: the same case reopens and its done steps stay done.
    # The dust instalment (due 31 Jan) is still the oldest open one: it anchors the cadence.
    book, debtor, invoice = one_invoice()
    book.pay(invoice, "999.50", d(2, 5))
    second = book.invoice(debtor, "800.00", d(2, 15))
    book.pay(second, "300.00", d(2, 20))
    assert book.days(P, d(1, 25), d(3, 1)) == golden("""
        2026-01-26 ACME case open preventive
        2026-01-28 ACME executed reminder
        2026-02-01 ACME case stage early
        2026-02-01 ACME executed notice-1
        2026-02-05 ACME case close cured
        2026-02-16 ACME case reopen early
        2026-02-16 ACME skipped call (came due 2026-02-10, before the case entered early on \
2026-02-16; a later call_task step ran instead)
        2026-02-16 ACME executed call#1 (came due 2026-02-15, before the case entered early)
        2026-02-16 ACME executed notice-7 (came due 2026-02-07, before the case entered early)
        2026-02-16 ACME task call opened by call#1 (priority 3)
        2026-02-20 ACME executed call#2
    """)


def test_one_call_task_however_often_the_call_repeats_and_it_closes_when_the_debtor_pays() -> None:
    # call, call#1 and call#2 are each executed, but the debtor has one open call task; a
    # promise pauses the case: the task closes; the case resumes: the next call opens a new
    # one, which closes when the debtor pays in full
    book, debtor, invoice = one_invoice()
    book.promise(debtor, "1000.00", made_on=d(2, 12), due_on=d(2, 13), grace=0)
    book.pay(invoice, "1000.00", d(2, 26))
    assert book.days(P, d(2, 1), d(2, 27)) == golden("""
        2026-02-01 ACME case open early
        2026-02-01 ACME executed notice-1
        2026-02-07 ACME executed notice-7
        2026-02-10 ACME executed call
        2026-02-10 ACME task call opened by call (priority 3)
        2026-02-12 ACME case update paused by promise until 2026-02-17
        2026-02-12 ACME task call closed: case paused by promise
        2026-02-17 ACME case update
        2026-02-17 ACME executed call#1 (came due 2026-02-15; caught up)
        2026-02-17 ACME task call opened by call#1 (priority 3)
        2026-02-17 ACME promise 1 broken
        2026-02-18 ACME executed call-broken#20260217
        2026-02-20 ACME executed call#2
        2026-02-26 ACME case close cured
        2026-02-26 ACME task call closed: case closed
    """)
    assert [t["status"] for t in book.tasks] == ["cancelled", "cancelled"]
    assert book.tasks[1]["priority"] == 1  # the broken promise's call made it urgent


def test_a_partial_payment_above_tolerance_keeps_the_case_and_its_anchor() -> None:
    book, _, invoice = one_invoice()
    book.pay(invoice, "600.00", d(2, 4))  # 400 still overdue: below the call's 500 threshold
    assert book.days(P, d(2, 1), d(2, 12)) == golden("""
        2026-02-01 ACME case open early
        2026-02-01 ACME executed notice-1
        2026-02-07 ACME executed notice-7
        2026-02-10 ACME skipped call (condition false on the day it came due)
    """)


def test_a_dispute_pauses_the_case_and_resolving_it_resumes_with_catch_up() -> None:
    book, _, invoice = one_invoice()
    log = book.days(P, d(1, 31), d(2, 3))
    book.dispute(invoice)
    log += book.days(P, d(2, 4), d(2, 8))
    book.dispute(invoice, False)
    log += book.days(P, d(2, 9), d(2, 16))
    assert log == golden("""
        2026-01-31 ACME case open preventive
        2026-01-31 ACME executed reminder (came due 2026-01-28, before the case entered preventive)
        2026-02-01 ACME case stage early
        2026-02-01 ACME executed notice-1
        2026-02-04 ACME case update paused by dispute until further notice
        2026-02-09 ACME case update
        2026-02-09 ACME executed notice-7 (came due 2026-02-07; caught up)
        2026-02-10 ACME executed call
        2026-02-10 ACME task call opened by call (priority 3)
        2026-02-15 ACME executed call#1
    """)


def test_a_manual_hold_pauses_until_its_end_date() -> None:
    book, debtor, _ = one_invoice()
    book.hold(debtor, d(2, 5), d(2, 12), "customer in hospital")
    assert book.days(P, d(1, 31), d(2, 20)) == golden("""
        2026-01-31 ACME case open preventive
        2026-01-31 ACME executed reminder (came due 2026-01-28, before the case entered preventive)
        2026-02-01 ACME case stage early
        2026-02-01 ACME executed notice-1
        2026-02-05 ACME case update paused by hold until 2026-02-12
        2026-02-12 ACME case update
        2026-02-12 ACME executed call (came due 2026-02-10; caught up)
        2026-02-12 ACME skipped notice-7 (came due 2026-02-07, 5 days ago, beyond catch_up_days 3)
        2026-02-12 ACME task call opened by call (priority 3)
        2026-02-15 ACME executed call#1
        2026-02-20 ACME executed call#2
    """)


def test_a_case_closed_while_paused_keeps_no_pause() -> None:
    # paid in full during a hold: the case closes, and its row says nothing of the hold (a
    # closed case is not paused)
    book, debtor, invoice = one_invoice()
    book.hold(debtor, d(2, 5), d(2, 12), "customer in hospital")
    book.pay(invoice, "1000.00", d(2, 8))
    assert book.days(P, d(2, 1), d(2, 9)) == golden("""
        2026-02-01 ACME case open early
        2026-02-01 ACME executed notice-1
        2026-02-05 ACME case update paused by hold until 2026-02-12
        2026-02-08 ACME case close cured
    """)
    [case] = book.cases
    assert (case["closed_on"], case["paused_by"], case["paused_until"]) == (d(2, 8), None, None)


def test_a_skipped_week_runs_each_step_that_came_due_once() -> None:
    # With catch_up_days 10, a week without runs: notice-7 and the first call both came due
    # meanwhile and each runs once, on the next run.
    policy = compiled(POLICY.replace("catch_up_days: 3", "catch_up_days: 10"))
    book, _, _ = one_invoice()
    week = frozenset(d(2, 5) + timedelta(days=n) for n in range(7))
    assert book.days(policy, d(1, 25), d(2, 16), skip=week) == golden("""
        2026-01-26 ACME case open preventive
        2026-01-28 ACME executed reminder
        2026-02-01 ACME case stage early
        2026-02-01 ACME executed notice-1
        2026-02-12 ACME executed call (came due 2026-02-10; caught up)
        2026-02-12 ACME executed notice-7 (came due 2026-02-07; caught up)
        2026-02-12 ACME task call opened by call (priority 3)
        2026-02-15 ACME executed call#1
    """)


def test_a_long_gap_skips_steps_beyond_the_catch_up_limit_and_runs_a_repeat_once() -> None:
    book, _, _ = one_invoice()
    gap = frozenset(d(2, 5) + timedelta(days=n) for n in range(15))
    assert book.days(P, d(1, 25), d(2, 22), skip=gap) == golden("""
        2026-01-26 ACME case open preventive
        2026-01-28 ACME executed reminder
        2026-02-01 ACME case stage early
        2026-02-01 ACME executed notice-1
        2026-02-20 ACME skipped call (came due 2026-02-10, 10 days ago, beyond catch_up_days 3)
        2026-02-20 ACME skipped call#1 (came due 2026-02-15, 5 days ago, beyond catch_up_days 3)
        2026-02-20 ACME executed call#2
        2026-02-20 ACME skipped notice-7 (came due 2026-02-07, 13 days ago, beyond catch_up_days 3)
        2026-02-20 ACME task call opened by call#2 (priority 3)
    """)


def test_a_reversed_payment_reopens_the_case() -> None:
    book, _, invoice = one_invoice()
    payment = book.pay(invoice, "1000.00", d(2, 3))
    book.reverse(payment, d(2, 10))
    assert book.days(P, d(1, 25), d(2, 20)) == golden("""
        2026-01-26 ACME case open preventive
        2026-01-28 ACME executed reminder
        2026-02-01 ACME case stage early
        2026-02-01 ACME executed notice-1
        2026-02-03 ACME case close cured
        2026-02-10 ACME case reopen early
        2026-02-10 ACME executed call
        2026-02-10 ACME executed notice-7 (came due 2026-02-07, before the case entered early)
        2026-02-10 ACME task call opened by call (priority 3)
        2026-02-15 ACME executed call#1
        2026-02-20 ACME executed call#2
    """)


def test_experiment_arms_are_deterministic_recorded_and_stable_across_days() -> None:
    book = Book()
    for n in range(400):
        debtor = book.debtor(f"D{n:03}")
        book.invoice(debtor, "20000.00", d(1, 31))  # segment big: in the experiment
    first = book.run(P, d(2, 1)).cases.select("debtor_id", "arm").sort("debtor_id")
    later = book.run(P, d(2, 9)).cases.select("debtor_id", "arm").sort("debtor_id")
    assert first.equals(later)
    challengers = first.filter(pl.col("arm") == "sms-first:challenger").height
    assert 160 <= challengers <= 240  # share 0.5 of 400
    sent = book.log[: 2 * 400]
    challenger_ids = set(first.filter(pl.col("arm") == "sms-first:challenger")["debtor_id"])
    sms = {int(line.split()[1][1:]) + 1 for line in sent if line.endswith("executed sms-1")}
    assert sms == challenger_ids
    assert not any(
        line.endswith("executed notice-1") and int(line.split()[1][1:]) + 1 in sms for line in sent
    )


def test_every_catalogue_feature_is_computed_with_its_documented_type() -> None:
    from arrears.policy.conditions import FeatureType
    from arrears.policy.features import FEATURES

    book, _, _ = one_invoice()
    features = decide(book.input(d(2, 3)), P, d(2, 3)).features
    assert set(FEATURES) <= set(features.columns)
    kinds = {
        FeatureType.NUMBER: (pl.Int32, pl.Int64, pl.UInt32, pl.Float64, pl.Decimal),
        FeatureType.TEXT: (pl.String,),
        FeatureType.BOOL: (pl.Boolean,),
        FeatureType.TEXT_LIST: (pl.List,),
    }
    for name, kind in FEATURES.items():
        assert isinstance(features.schema[name], kinds[kind]), (name, features.schema[name])


CONTACT_POLICY = """
policy: contact-rules
stages:
  - {name: clear}
  - {name: early, when: days_past_due >= 1}
segments:
  - {name: everyone}
cadences:
  - stage: early
    steps:
      - {id: email-1, offset: 1, action: send, channel: email, template: notice, fallback: [letter]}
      - {id: call-1, offset: 1, action: call_task}
      - {id: sms-3, offset: 3, action: send, channel: sms, template: notice_sms}
"""


def test_contact_rules_defer_block_and_fall_back_in_the_cycle() -> None:
    policy = compiled(CONTACT_POLICY)
    book = Book()
    # Colombia (Ley 2300): only authorised channels, one contact a day, no Sundays or holidays
    co = book.debtor("CO-1", country="CO", timezone="America/Bogota", kind="person")
    book.consent.update({(co, "letter"): "granted", (co, "call"): "granted"})
    book.invoice(co, "500000.00", d(3, 20), currency="COP")  # 21 Mar 2026 is a Saturday
    # the US, a company: the default pack (no contact on Sundays)
    us = book.debtor("US-1")
    book.invoice(us, "100.00", d(3, 21))  # day 1 is Sunday 22 March
    assert book.days(policy, d(3, 21), d(3, 24)) == golden("""
        2026-03-21 CO-1 case open early
        2026-03-21 CO-1 blocked call-1 (co-ley-2300.daily-cap: \
At most 1 contact(s) on all channels in 1 days.)
        2026-03-21 CO-1 executed email-1 (came due; \
by letter instead of email, which the rules did not allow)
        2026-03-22 US-1 case open early
        2026-03-22 US-1 blocked call-1 (default.daily-cap: \
At most 1 contact(s) on all channels in 1 days.)
        2026-03-22 US-1 executed email-1 (deferred to 2026-03-23 08:00 local by default.closed-day)
        2026-03-23 CO-1 blocked sms-3 (co-ley-2300.consent-required: \
Only channels the debtor authorised may be used; consent is not recorded.)
        2026-03-24 US-1 executed sms-3
    """)


def test_the_propensity_score_is_a_feature_and_orders_the_worklist() -> None:
    from dataclasses import replace

    from arrears.cycle.frames import SCORE_SCHEMA

    policy = compiled(POLICY.replace("policy: scenarios", "policy: scored"))
    book = Book()
    likely, unlikely = book.debtor("LIKELY"), book.debtor("UNLIKELY")
    book.invoice(likely, "1000.00", d(1, 31))
    book.invoice(unlikely, "3000.00", d(1, 31))
    scores = pl.DataFrame(
        [(likely, "USD", 0.9, 90_000, 5.0), (unlikely, "USD", 0.1, 30_000, 60.0)],
        schema=SCORE_SCHEMA,
        orient="row",
    )
    data = replace(book.input(d(2, 10)), scores=scores)
    features = decide(data, policy, d(2, 10)).features.sort("debtor_id")
    assert features["score"].to_list() == [0.9, 0.1]
    assert [str(v) for v in features["expected_recovery"]] == ["900.0000", "300.0000"]
    # the default priority is the expected recovery: the likelier payer first, though it owes less
    assert features["priority"].to_list() == [900.0, 300.0]
    # without scores the priority falls back to the overdue balance weighted by age
    plain = decide(book.input(d(2, 10)), policy, d(2, 10)).features.sort("debtor_id")
    assert plain["score"].to_list() == [None, None]
    assert plain["priority"].to_list() == pytest.approx(
        [1000 * (1 + 10 / 30), 3000 * (1 + 10 / 30)]
    )


def test_a_debtor_first_seen_on_a_notice_day_gets_that_notice_once() -> None:
    # First seen at 7 days past due: notice-1 came due before the case entered early, notice-7
    # comes due today. Both are the same email: only the day's notice runs (issue 21, item 14).
    book, _, _ = one_invoice()
    assert book.days(P, d(2, 7), d(2, 7)) == golden("""
        2026-02-07 ACME case open early
        2026-02-07 ACME skipped notice-1 (came due 2026-02-01, before the case entered early on \
2026-02-07; a later send step ran instead)
        2026-02-07 ACME executed notice-7
    """)


def test_a_catch_up_sends_the_same_message_once() -> None:
    # A hold covers the first week of the case: notice-1 and notice-7 (the same email) both came
    # due meanwhile; when the hold ends only the later one runs.
    policy = compiled(POLICY.replace("catch_up_days: 3", "catch_up_days: 10"))
    book, debtor, _ = one_invoice()
    book.hold(debtor, d(2, 1), d(2, 8), "customer travelling")
    assert book.days(policy, d(2, 1), d(2, 8)) == golden("""
        2026-02-01 ACME case open early
        2026-02-08 ACME case update
        2026-02-08 ACME skipped notice-1 (the same message as notice-7, which runs today: \
a catch-up sends a message once)
        2026-02-08 ACME executed notice-7 (came due 2026-02-07; caught up)
    """)


ONBOARDING_POLICY = """
policy: onboarding
stages:
  - {name: clear}
  - {name: early, when: days_past_due between 1 and 30}
  - {name: late, when: days_past_due between 31 and 89}
  - {name: agency, when: days_past_due >= 90}
  - {name: write_off, when: days_past_due >= 180, approval: true}
segments:
  - {name: everyone}
cadences:
  - stage: late
    steps:
      - {id: letter, offset: 31, action: send, channel: letter, template: final}
      - {id: hold-credit, offset: 0, anchor: stage_entered, action: credit_hold}
  - stage: agency
    steps:
      - {id: place, offset: 90, action: place_with_agency, agency: collectors_inc}
  - stage: write_off
    steps:
      - {id: propose, offset: 0, anchor: stage_entered, action: propose_write_off}
contact_rules:
  default: {hours: {sun: {start: "08:00", end: "20:00"}}, caps: [], holidays_closed: false}
"""


def onboarding_book() -> tuple[Book, int, int]:
    """A backlog first seen on 1 May: OLD at 120 days past due, ANCIENT at 212, and FRESH at
    60 days, which walks into the agency stage on 31 May."""
    book = Book()
    old, ancient, fresh = book.debtor("OLD"), book.debtor("ANCIENT"), book.debtor("FRESH")
    book.invoice(old, "1000.00", d(1, 1))
    book.invoice(ancient, "5000.00", d(9, 30) - timedelta(days=365))
    book.invoice(fresh, "300.00", d(3, 2))
    return book, old, ancient


def test_a_backlog_waits_for_approval_before_its_first_escalation() -> None:
    # The first run does not place OLD or propose writing ANCIENT off: both cases open in `late`,
    # the stage before the escalation, get its steps, and wait. Approved, OLD is placed on the
    # next run; ANCIENT, approved for the agency only, is placed and still waits for the
    # write-off's own approval. FRESH was in collection before: it escalates on its own.
    policy = compiled(ONBOARDING_POLICY)
    book, old, ancient = onboarding_book()
    log = book.days(policy, d(5, 1), d(5, 3))
    book.approve(old, "agency", d(5, 3))
    book.approve(ancient, "agency", d(5, 3))
    log += book.days(policy, d(5, 4), d(5, 31))
    assert log == golden("""
        2026-05-01 OLD case open late (awaiting approval: agency)
        2026-05-01 ANCIENT case open late (awaiting approval: write_off)
        2026-05-01 FRESH case open late
        2026-05-01 OLD executed hold-credit
        2026-05-01 OLD executed letter (came due 2026-02-01, before the case entered late)
        2026-05-01 ANCIENT executed hold-credit
        2026-05-01 ANCIENT executed letter (came due 2025-10-31, before the case entered late)
        2026-05-01 FRESH executed hold-credit
        2026-05-01 FRESH executed letter (came due 2026-04-02, before the case entered late)
        2026-05-04 OLD case stage agency
        2026-05-04 ANCIENT case stage agency (awaiting approval: write_off)
        2026-05-04 OLD executed place (came due 2026-04-01, before the case entered agency)
        2026-05-04 ANCIENT executed place (came due 2025-12-29, before the case entered agency)
        2026-05-31 FRESH case stage agency
        2026-05-31 FRESH executed place
    """)


def test_onboarding_escalations_proceed_opens_a_backlog_in_the_stage_it_matches() -> None:
    policy = compiled(ONBOARDING_POLICY + "onboarding: {escalations: proceed}\n")
    book, _, _ = onboarding_book()
    assert book.days(policy, d(5, 1), d(5, 1)) == golden("""
        2026-05-01 OLD case open agency
        2026-05-01 ANCIENT case open agency (awaiting approval: write_off)
        2026-05-01 FRESH case open late
        2026-05-01 OLD executed place (came due 2026-04-01, before the case entered agency)
        2026-05-01 ANCIENT executed place (came due 2025-12-29, before the case entered agency)
        2026-05-01 FRESH executed hold-credit
        2026-05-01 FRESH executed letter (came due 2026-04-02, before the case entered late)
    """)


def test_a_stage_that_needs_approval_holds_a_case_instead_of_closing_it() -> None:
    # `legal` does not overlap `late` and needs approval: a case reaching it stays in `late`
    # (it was closed as cured), and a debtor first seen there opens in `late` (it got no case).
    policy = compiled("""
policy: approval-alone
stages:
  - {name: clear}
  - {name: late, when: days_past_due between 1 and 60}
  - {name: legal, when: days_past_due > 60, approval: true}
segments:
  - {name: everyone}
""")
    book = Book()
    book.invoice(book.debtor("WALKS"), "100.00", d(3, 1))
    book.invoice(book.debtor("FIRST-SEEN"), "100.00", d(1, 1))
    assert book.days(policy, d(4, 25), d(5, 3)) == golden("""
        2026-04-25 WALKS case open late
        2026-04-25 FIRST-SEEN case open late (awaiting approval: legal)
        2026-05-01 WALKS case update (awaiting approval: legal)
    """)
