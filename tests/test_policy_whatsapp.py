"""``arrears policy check`` checks a policy's WhatsApp steps against the workspace's catalogue of
approved templates (``[whatsapp.templates.<template>]`` in arrears.toml): a step whose template
has no approved one, or whose parameters do not match it, is reported at the step, with what to
do, every problem at once; a catalogue that matches passes."""

from __future__ import annotations

from pathlib import Path

import pytest

from arrears import config
from arrears.cli.app import main

GOOD = """
[whatsapp.templates.recordatorio_previo_whatsapp]
name = "payment_reminder_v2"
language = "es"
params = ["{{ debtor.name }}", "{{ totals[0].open | money(totals[0].currency) }}",
          "{{ payment_link }}"]
body = "Hola {{1}}, le recordamos que su saldo de {{2}} vence mañana. Pague aquí: {{3}}"
"""

#: the body takes four parameters, params gives three; one names an unknown variable, one is
#: empty for the sample debtor; the language is not a language code
BAD = """
[whatsapp.templates.recordatorio_previo_whatsapp]
name = "payment_reminder_v2"
language = "e s"
params = ["{{ debtr.name }}", "{{ payment_link }}", "{{ collector.phone }}"]
body = "Hola {{1}}, su saldo de {{2}} vence mañana. Pague aquí: {{3}} ({{4}})"
"""


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Path:
    ws = tmp_path_factory.mktemp("policy-whatsapp") / "ws"
    assert main(["init", str(ws)]) == 0
    return ws


def _step_at(policy: Path) -> str:
    """``<line>:<column>`` of the WhatsApp step's channel in ``policy``."""
    for i, line in enumerate(policy.read_text("utf-8").splitlines(), 1):
        if "channel: whatsapp" in line:
            return f"{i}:{line.index('channel: whatsapp') + len('channel: ') + 1}"
    raise AssertionError("no WhatsApp step")


def _check(ws: Path, catalogue: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    toml = ws / "arrears.toml"
    base = toml.read_text("utf-8").split("\n[whatsapp.templates.")[0]
    toml.write_text(base + catalogue, encoding="utf-8")
    capsys.readouterr()
    status = main(["policy", "check", str(ws / "policies" / "co-cobranza.yaml")])
    out = capsys.readouterr()
    return status, " ".join((out.err + out.out).split())


def test_a_whatsapp_step_without_an_approved_template_is_reported_at_the_step(
    ws: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, said = _check(ws, "", capsys)
    assert status == 1
    assert (
        f"co-cobranza.yaml:{_step_at(ws / 'policies' / 'co-cobranza.yaml')}: step "
        "'recordatorio-whatsapp' sends template "
        "'recordatorio_previo_whatsapp' on WhatsApp: no approved WhatsApp template: add "
        "[whatsapp.templates.recordatorio_previo_whatsapp] in arrears.toml with the name, "
        "language and params of the template approved in WhatsApp Manager"
    ) in said


def test_parameters_that_do_not_match_the_catalogue_are_all_reported(
    ws: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, said = _check(ws, BAD, capsys)
    assert status == 1
    at = _step_at(ws / "policies" / "co-cobranza.yaml")
    where = f"co-cobranza.yaml:{at}: step 'recordatorio-whatsapp' sends template"
    assert said.count(where) == 4, said
    for problem in (
        "language 'e s' is not a language code",
        "the approved template 'payment_reminder_v2' takes 4 parameter(s) ({{1}}..{{4}} in "
        "body), params gives 3: give one expression per placeholder, in order",
        "params[1] '{{ debtr.name }}': 'debtr' is undefined",
        "params[3] '{{ collector.phone }}' is empty for the sample debtor",
    ):
        assert problem in said, problem
    assert "ok (" not in said  # nothing half-applied: the policy is refused


def test_a_matching_catalogue_passes(ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, said = _check(ws, GOOD, capsys)
    assert status == 0, said
    assert "co-cobranza.yaml:ok(" in "".join(said.split())  # the path may wrap


def test_a_fallback_to_whatsapp_needs_an_approved_template_too(
    ws: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = ws / "policies" / "fallback.yaml"
    text = (ws / "policies" / "co-cobranza.yaml").read_text("utf-8")
    text = text.replace("channel: whatsapp,", "channel: sms, fallback: [email, whatsapp],")
    policy.write_text(text, encoding="utf-8")
    toml = ws / "arrears.toml"
    toml.write_text(toml.read_text("utf-8").split("\n[whatsapp.templates.")[0], encoding="utf-8")
    line = _step_at(ws / "policies" / "co-cobranza.yaml").split(":")[0]
    status = main(["policy", "check", str(policy)])
    said = " ".join(capsys.readouterr().err.split())
    policy.unlink()
    assert status == 1
    assert f"fallback.yaml:{line}:" in said
    assert "sends template 'recordatorio_previo_whatsapp' on WhatsApp: no approved" in said


def test_a_body_that_is_not_a_text_is_refused_when_the_workspace_is_read(tmp_path: Path) -> None:
    (tmp_path / "arrears.toml").write_text(
        "[whatsapp.templates.reminder]\nname = 'r'\nlanguage = 'es'\nbody = 3\n", encoding="utf-8"
    )
    with pytest.raises(config.ConfigError, match=r"whatsapp.templates.reminder.body: a text"):
        config.load(tmp_path, env={})


def test_a_new_workspace_passes_the_check_of_every_policy_it_ships(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``arrears init`` writes the approved-template entry the shipped Colombian policy needs, so
    a new user's first ``policy check`` of a shipped policy passes."""
    ws = tmp_path / "ws"
    assert main(["init", str(ws)]) == 0
    for policy in sorted((ws / "policies").glob("*.yaml")):
        capsys.readouterr()
        status = main(["-w", str(ws), "policy", "check", str(policy)])
        assert status == 0, (policy.name, capsys.readouterr().err)
