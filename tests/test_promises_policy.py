"""The policy's ``on_broken_promise`` steps as ``arrears policy check`` sees them."""

from __future__ import annotations

from pathlib import Path

import pytest

from arrears.cli.app import main

BASE = """
policy: promises
stages:
  - {name: clear}
  - {name: early, when: days_past_due >= 1}
segments:
  - {name: all}
cadences:
  - stage: early
    steps:
      - {id: call, offset: 5, action: call_task}
"""


def check(tmp_path: Path, extra: str) -> int:
    path = tmp_path / "policy.yaml"
    path.write_text(BASE + extra)
    return main(["policy", "check", str(path)])


def test_a_follow_up_call_the_day_after_a_broken_promise_passes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    extra = """on_broken_promise:
  - {id: call-broken, offset: 1, action: call_task, priority: 1, when: overdue_balance > 0}
"""
    assert check(tmp_path, extra) == 0, capsys.readouterr()


def test_every_problem_of_the_broken_promise_steps_is_reported_where_it_is(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    extra = """on_broken_promise:
  - {id: call, offset: 1, action: call_task}
  - {id: later, offset: -2, anchor: case_opened, action: call_task, repeat: {every: 2, times: 2}}
  - {id: fee, action: late_fee, fee: fixed, amount: 5}
  - {id: odd, action: call_task, when: no_such_feature > 1}
"""
    assert check(tmp_path, extra) == 1
    out, err = capsys.readouterr()
    said = " ".join((out + err).split())
    for line, message in (
        (13, "step id 'call' is used twice"),
        (14, "remove its anchor"),
        (14, "remove its repeat"),
        (14, "cannot run before the promise is broken (offset -2)"),
        (15, "step 'fee' may not late_fee"),
        (16, "no_such_feature"),
    ):
        assert f"policy.yaml:{line}:" in said and message in said, (line, message, said)


def test_a_broken_promise_message_names_a_template_that_exists(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "ws"
    assert main(["init", str(root)]) == 0
    capsys.readouterr()
    path = root / "policies" / "promises.yaml"
    path.parent.mkdir(exist_ok=True)
    ok = """on_broken_promise:
  - {id: sorry, offset: 1, action: send, channel: email, template: notice_overdue}
"""
    path.write_text(BASE + ok)
    assert main(["policy", "check", str(path)]) == 0, capsys.readouterr()
    path.write_text(BASE + ok.replace("notice_overdue", "no_such_letter"))
    assert main(["policy", "check", str(path)]) == 1
    out, err = capsys.readouterr()
    assert "promises.yaml:13:" in out + err and "template 'no_such_letter'" in out + err
