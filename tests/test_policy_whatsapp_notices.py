"""``arrears policy check``: the approved WhatsApp text of a step must carry the notice a
contact-rule pack in effect requires on every message (Regulation F's "this communication is from
a debt collector" for US consumer debts), in the template's language: WhatsApp sends only the
approved text, so the dispatcher cannot add it as it does to emails and SMS. Reported at the step,
in English and in Spanish; a body with the notice passes, and so does a template whose readers
no such pack governs."""

from __future__ import annotations

from pathlib import Path

import pytest

from arrears.cli.app import main
from arrears.contact.packs import effective_packs

US = effective_packs({})["us-reg-f"]
PARAMS = """params = ["{{ debtor.name }}", "{{ totals[0].open | money(totals[0].currency) }}",
          "{{ payment_link }}"]"""


def _catalogue(language: str, body: str) -> str:
    return (
        "\n[whatsapp.templates.recordatorio_previo_whatsapp]\n"
        f'name = "payment_reminder_v3"\nlanguage = "{language}"\n{PARAMS}\n'
        f'body = """{body}"""\n'
    )


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Path:
    ws = tmp_path_factory.mktemp("policy-whatsapp-notices") / "ws"
    assert main(["init", str(ws)]) == 0
    return ws


def _check(ws: Path, catalogue: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    toml = ws / "arrears.toml"
    base = toml.read_text("utf-8").split("\n[whatsapp.templates.")[0]
    toml.write_text(base + catalogue, encoding="utf-8")
    capsys.readouterr()
    status = main(["policy", "check", str(ws / "policies" / "co-cobranza.yaml")])
    out = capsys.readouterr()
    return status, " ".join((out.err + out.out).split())


def _step_at(policy: Path) -> str:
    for i, line in enumerate(policy.read_text("utf-8").splitlines(), 1):
        if "channel: whatsapp" in line:
            return f"{i}:{line.index('channel: whatsapp') + len('channel: ') + 1}"
    raise AssertionError("no WhatsApp step")


@pytest.mark.parametrize(
    ("language", "body"),
    [
        ("en_US", "Hi {{1}}, your balance of {{2}} is due tomorrow. Pay here: {{3}}"),
        ("es_US", "Hola {{1}}, su saldo de {{2}} vence mañana. Pague aquí: {{3}}"),
    ],
)
def test_an_approved_text_without_the_packs_notice_is_reported_at_the_step(
    ws: Path, capsys: pytest.CaptureFixture[str], language: str, body: str
) -> None:
    status, said = _check(ws, _catalogue(language, body), capsys)
    assert status == 1, said
    at = _step_at(ws / "policies" / "co-cobranza.yaml")
    notice = " ".join(US.message_notice_in(language).split())
    assert (
        f"co-cobranza.yaml:{at}: step 'recordatorio-whatsapp' sends template "
        "'recordatorio_previo_whatsapp' on WhatsApp: [whatsapp.templates."
        "recordatorio_previo_whatsapp] in arrears.toml: body lacks the notice contact-rule pack "
        f"'us-reg-f' requires on every message ({language}): '{notice}'"
    ) in said
    assert said.count("body lacks the notice") == 1
    assert "ok (" not in said


@pytest.mark.parametrize(
    ("language", "body"),
    [
        ("en_US", "Hi {{1}}, your balance of {{2}} is due tomorrow. Pay here: {{3}}\n"),
        ("es_US", "Hola {{1}}, su saldo de {{2}} vence mañana. Pague aquí: {{3}}\n"),
    ],
)
def test_an_approved_text_with_the_notice_passes(
    ws: Path, capsys: pytest.CaptureFixture[str], language: str, body: str
) -> None:
    # the notice as approved, wrapped on other lines than the pack's text
    notice = US.message_notice_in(language).replace(". ", ".\n")
    status, said = _check(ws, _catalogue(language, body + notice), capsys)
    assert status == 0, said
    assert "body lacks" not in said


def test_a_template_no_such_pack_governs_needs_no_notice(
    ws: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Spanish without a region (the shipped Colombian entry): Regulation F governs US debtors
    only, and the Colombian pack requires no notice on messages."""
    body = "Hola {{1}}, su saldo de {{2}} vence mañana. Pague aquí: {{3}}"
    status, said = _check(ws, _catalogue("es", body), capsys)
    assert status == 0, said
