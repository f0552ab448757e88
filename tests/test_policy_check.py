"""`policy check`: the shipped examples pass; a broken policy reports every problem, located."""

from pathlib import Path

import pytest

from arrears.cli.app import main
from arrears.policy.loading import load_policy

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "policies"

BROKEN = """\
policy: broken
buckets: [30, 30, 90]
stages:
  - name: early
    when: days_past_due > 0
  - name: late
    when: days_past_du > 30 and country > 3
  - name: late
    when: days_past_due > 60
segments:
  - name: everyone
  - name: big
    when: balance > 1000
cadences:
  - stage: early
    segment: [everyone, nobody]
    steps:
      - {id: n1, offset: 1, action: send, channel: email, template: t, ofset: 2}
      - {id: n1, offset: 3, action: fax}
      - {id: move, offset: 5, action: move_stage, to: nowhere}
  - stage: middle
    steps: []
"""


def test_shipped_examples_pass() -> None:
    files = sorted(EXAMPLES.glob("*.yaml"))
    assert files
    for path in files:
        policy, problems = load_policy(path)
        assert problems == [], [str(p) for p in problems]
        assert policy is not None


def test_structural_problems_are_all_reported_with_did_you_mean(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(BROKEN)
    _, problems = load_policy(path)
    assert [str(p).replace(str(tmp_path) + "/", "") for p in problems] == [
        "p.yaml:18:72: unknown key 'ofset'; did you mean 'offset'?",
        "p.yaml:19:9: unknown action 'fax'; expected one of 'send', 'call_task', 'credit_hold', "
        "'credit_release', 'move_stage', 'payment_plan_offer', 'settlement_offer', 'late_fee', "
        "'place_with_agency', 'recall_from_agency', 'propose_write_off', 'notify_owner'",
    ]


def test_semantic_problems_are_all_reported(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(BROKEN.replace(", ofset: 2", "").replace("action: fax", "action: credit_hold"))
    _, problems = load_policy(path)
    assert [str(p).replace(str(tmp_path) + "/", "") for p in problems] == [
        "p.yaml:2:10: buckets must be strictly increasing",
        "p.yaml:4:3: the first stage must be 'clear' without a condition (nothing overdue)",
        "p.yaml:5:11: stages 'early' and 'late' overlap on days past due 61 and more; 'late' "
        "(more severe) wins there: make the windows meet without overlapping",
        "p.yaml:7:11: unknown feature 'days_past_du'; did you mean 'days_past_due'?",
        "p.yaml:7:41: cannot compare text with number using '>'",
        "p.yaml:8:11: stage 'late' is defined twice",
        "p.yaml:12:11: segment 'big' is unreachable: the default segment 'everyone' before it "
        "matches every debtor",
        "p.yaml:16:14: unknown segment 'nobody'",
        "p.yaml:19:14: step id 'n1' is used twice",
        "p.yaml:20:55: unknown stage 'nowhere'",
        "p.yaml:21:12: unknown stage 'middle'",
    ]


def test_step_after_the_stage_ends_is_reported(tmp_path: Path) -> None:
    text = (
        (EXAMPLES / "b2b.yaml")
        .read_text()
        .replace("{id: notice-30, offset: 30,", "{id: notice-30, offset: 31,")
    )
    path = tmp_path / "p.yaml"
    path.write_text(text)
    _, problems = load_policy(path)
    messages = [p.message for p in problems]
    assert messages == [
        "step 'notice-30' at day 31 comes after stage 'early' ends (day 30): it would never run"
    ]


def test_yaml_syntax_error_is_located(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("policy: x\nstages: [\n")
    _, problems = load_policy(path)
    assert len(problems) == 1
    assert problems[0].row == 3 and "not valid YAML" in problems[0].message


def test_cli_check_and_schema(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policy", "check", str(EXAMPLES / "b2b.yaml")]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "ok (7 stages" in out
    assert "onboarding: a new case matching agency, legal waits for approval in pre_legal" in out
    bad = tmp_path / "bad.yaml"
    bad.write_text(BROKEN)
    assert main(["policy", "check", str(bad)]) == 1
    assert f"{bad}:18:72: unknown key 'ofset'" in capsys.readouterr().err
    assert main(["policy", "schema"]) == 0
    assert '"title": "arrears collection policy"' in capsys.readouterr().out


def test_every_feature_is_documented() -> None:
    from arrears.policy.features import CATALOGUE

    docs = (EXAMPLES.parents[1] / "docs" / "policy.md").read_text()
    for feature in CATALOGUE:
        assert f"| `{feature.name}` |" in docs, feature.name


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            ("days_past_due between 31 and 60", "days_past_due between 25 and 60"),
            [
                "stages 'early' and 'administrative' overlap on days past due 25 to 30; "
                "'administrative' (more severe) wins there: make the windows meet without "
                "overlapping"
            ],
        ),
        (
            ("days_past_due between 61 and 89", "days_past_due > 60 and days_past_due < 75"),
            [],
        ),
        (
            ("days_past_due between 61 and 89", "days_past_due >= 95"),
            [
                "stage 'pre_legal' can never be entered: more severe stages match every day "
                "past due it does (95 and more)"
            ],
        ),
    ],
)
def test_overlapping_and_shadowed_stages_are_reported(
    tmp_path: Path, change: tuple[str, str], expected: list[str]
) -> None:
    path = tmp_path / "p.yaml"
    path.write_text((EXAMPLES / "b2b.yaml").read_text().replace(*change))
    _, problems = load_policy(path)
    assert [p.message for p in problems if "stage" in p.message] == expected


def test_contact_rule_overrides_and_time_barred_threats_are_checked(tmp_path: Path) -> None:
    text = (EXAMPLES / "us-consumer.yaml").read_text()
    legal = (
        "  - stage: charge_off\n    steps:\n"
        "      - {id: final-demand, offset: 200, action: send, channel: letter,"
        " template: legal_demand, legal_threat: true}\n"
    )
    text = text.replace("  - stage: charge_off\n    steps:\n", legal)
    text += "\ncontact_rules:\n  us-reg-f:\n    conversation_quiet_days: -1\n"
    path = tmp_path / "p.yaml"
    path.write_text(text)
    _, problems = load_policy(path)
    messages = [p.message for p in problems]
    assert any(
        m.startswith(
            "step 'final-demand' threatens legal action in stage 'charge_off', which "
            "holds at 2191 days past due and more"
        )
        for m in messages
    ), messages
    assert any("contact_rules.us-reg-f.conversation_quiet_days" in m for m in messages), messages
    # bounded below the limit, the same threat is accepted
    bounded = text.replace("days_past_due >= 180", "days_past_due between 180 and 2000")
    bounded = bounded.replace("conversation_quiet_days: -1", "conversation_quiet_days: 7")
    path.write_text(bounded)
    _, problems = load_policy(path)
    assert problems == []


def test_policy_rules_prints_the_effective_packs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "p.yaml"
    text = (EXAMPLES / "co-cobranza.yaml").read_text()
    path.write_text(text + "\ncontact_rules:\n  co-ley-2300:\n    hours: {sat: null}\n")
    assert main(["policy", "rules", str(path), "--pack", "co-ley-2300"]) == 0
    out = capsys.readouterr().out
    assert "overridden packs: co-ley-2300" in out and "sat: null" in out and "mon:" in out
    assert main(["policy", "rules", str(path), "--pack", "nope"]) == 1
    assert "no such pack" in capsys.readouterr().err
    # policy check shows the effective rules in one line per pack
    assert main(["policy", "check", str(path)]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "contact rules co-ley-2300 (overridden): mon-fri 07:00-19:00; daily-cap 1/1d" in out


def test_onboarding_setting_is_checked(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    b2b = (EXAMPLES / "b2b.yaml").read_text()
    shipped = "onboarding:\n  escalations: approve\n"
    assert shipped in b2b
    path.write_text(b2b.replace(shipped, "onboarding: {escalations: later}\n"))
    _, problems = load_policy(path)
    assert [p.message for p in problems] == [
        "onboarding.escalations: Input should be 'approve' or 'proceed'"
    ]
    path.write_text(b2b.replace(shipped, "onboarding:\n  stages: [agency, legl, clear]\n"))
    _, problems = load_policy(path)
    row = b2b[: b2b.index(shipped)].count("\n") + 2
    assert [(p.row, p.message) for p in problems] == [
        (row, "unknown stage 'legl'"),
        (row, "'clear' is not an escalation: nothing is collected"),
    ]
    # the only stage places with an agency: a new case would have no stage to wait in
    agency_only = """
policy: agency-only
stages:
  - {name: clear}
  - {name: agency, when: days_past_due >= 1}
segments:
  - {name: everyone}
cadences:
  - stage: agency
    steps:
      - {id: place, offset: 1, action: place_with_agency, agency: a}
"""
    path.write_text(agency_only)
    _, problems = load_policy(path)
    assert [p.message for p in problems] == [
        "stage 'agency' is an escalation stage (onboarding) and no stage before it needs no "
        "approval: a new case matching it could not open to wait for approval; add a stage "
        "before it, list onboarding.stages, or set onboarding: {escalations: proceed}"
    ]
    path.write_text(agency_only + "onboarding: {escalations: proceed}\n")
    _, problems = load_policy(path)
    assert problems == []
