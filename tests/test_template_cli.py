"""`arrears template check` and `template render`, and what a dispatch writes, through the
command line: Spanish and German debtors get their own language, with the plural of one day."""

from __future__ import annotations

import email
import json
from email import policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import select

from arrears.cli.app import main
from arrears.store.schema import activity
from channels_support import DAY, SENDING_ENV, engine_of

DEBTORS = (
    "debtor_id,name,kind,country,region,timezone,language,currency,email,phone,address,"
    "consent_email,consent_sms,consent_whatsapp,consent_call,consent_letter,credit_limit,"
    "credit_status,do_not_contact,bankrupt,deceased,legal_representative,tags,segment\n"
    "E1,Ferretería Andina SAS,company,CO,Bogotá D.C.,America/Bogota,es,COP,pagos@andina.test,"
    '+573001234567,"Calle 80 # 10-20, Bogotá",granted,unknown,unknown,granted,granted,'
    "90000000.00,active,no,no,no,no,,smb\n"
    "G1,Müller Logistik GmbH,company,DE,Berlin,Europe/Berlin,de,EUR,buchhaltung@mueller.test,"
    '+4915112345678,"Hauptstraße 5, 10115 Berlin",granted,unknown,unknown,granted,granted,'
    "90000.00,active,no,no,no,no,,smb\n"
    "P1,Ana Souza,person,BR,SP,America/Sao_Paulo,pt_BR,BRL,ana@souza.test,+5511987654321,"
    '"Rua A, 1, São Paulo",granted,unknown,unknown,granted,granted,9000.00,active,no,no,no,no,,'
    "consumer\n"
)
INVOICES = (
    "invoice_id,debtor_id,issue_date,due_date,amount,currency,number,instalment,disputed,"
    "reference\n"
    "I1,E1,2026-10-23,2026-11-22,1250000.00,COP,FV-0001,1,no,\n"
    "I2,G1,2026-10-23,2026-11-22,2480.90,EUR,RE-2026-77,1,no,\n"
    "I3,P1,2026-10-23,2026-11-22,480.00,BRL,NF-12,1,no,\n"
)


@pytest.fixture
def ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name, value in SENDING_ENV.items():
        monkeypatch.setenv(name, value)
    ws = tmp_path / "ws"
    assert main(["init", str(ws)]) == 0
    (tmp_path / "debtors.csv").write_text(DEBTORS, encoding="utf-8")
    (tmp_path / "invoices.csv").write_text(INVOICES, encoding="utf-8")
    for kind in ("debtors", "invoices"):
        assert main(["-w", str(ws), "import", kind, str(tmp_path / f"{kind}.csv")]) == 0
    return ws


def test_dispatch_writes_spanish_and_german_in_their_language(
    ws: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["-w", str(ws), "run", "--as-of", DAY.isoformat()]) == 0
    assert main(["-w", str(ws), "dispatch", "--as-of", DAY.isoformat()]) == 0
    capsys.readouterr()
    bodies = {}
    for path in (ws / "outbox" / "email").glob("*.eml"):
        msg = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        text = msg.get_body(preferencelist=("plain",))
        assert isinstance(text, EmailMessage)
        bodies[path.name.split("-")[0]] = (
            str(msg["Subject"]),
            text.get_content().replace("\r\n", "\n"),
        )
    subject, es = bodies["E1"]
    assert subject == "Facturas vencidas: 1 día de mora"
    assert "- FV-0001: $1.250.000,00, con vencimiento el 22/11/2026 (1 día de mora)\n" in es
    assert "Atentamente,\nDepartamento de cartera\n" in es and "días" not in es
    _, pt = bodies["P1"]
    assert "(1 dia em atraso)" in pt and "Prezado(a) Ana Souza," in pt
    (sms,) = (ws / "outbox" / "sms").glob("G1-*.json")
    assert json.loads(sms.read_text())["text"] == (
        "Example Company: Ihr überfälliger Betrag von 2.480,90\u00a0€ ist seit 1 Tag fällig. "
        "Zahlen: "
        "https://pay.example.com/G1 Antworten Sie STOP, um keine Nachrichten mehr zu erhalten."
    )


def test_template_render_names_the_language_and_the_fallback(
    ws: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["-w", str(ws), "template", "render", "notice_overdue", "--debtor", "G1"]) == 0
    out = capsys.readouterr().out
    assert f"template: {ws / 'templates' / 'de' / 'notice_overdue.j2'} (language de)" in out
    assert "subject: Zahlungserinnerung" in out
    # a template of the workspace's own, in English and Spanish only
    for lang, words in (("en", "Hello"), ("es", "Hola")):
        (ws / "templates" / lang / "greeting.j2").write_text(
            f"{{% block subject %}}{words}{{% endblock %}}"
            f"{{% block text %}}{words} {{{{ debtor.name }}}}{{% endblock %}}"
        )
    assert main(["-w", str(ws), "template", "render", "greeting", "--debtor", "G1"]) == 0
    out = capsys.readouterr().out
    assert f"{ws / 'templates' / 'en' / 'greeting.j2'} (language en: no 'de' template" in out
    assert "Hello Müller Logistik GmbH" in out
    assert main(["-w", str(ws), "template", "render", "greeting", "--debtor", "P1"]) == 0
    assert "no 'pt_BR' template" not in capsys.readouterr().out  # pt_BR asks for pt: no 'pt'


def test_template_check_passes_on_a_new_workspace(
    ws: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["-w", str(ws), "template", "check"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "templates: 15 in de, en, es, fr, pt" in out
    assert "debtors by language: de (1), es (1), pt_BR (1)" in out and "no problems" in out


def test_template_check_reports_every_problem_with_its_place(
    ws: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tpl = ws / "templates"
    (tpl / "en" / "typo.j2").write_text("{% block text %}\nHi\n{{ debtr.name }}{% endblock %}")
    (tpl / "es" / "broken.j2").write_text("{% block text %}\n{% if %}{% endblock %}")
    (tpl / "de" / "bad_filter.j2").write_text(
        "{% block text %}\n\n{{ debtor.name | money(1, 2, 3) }}{% endblock %}"
    )
    (tpl / "en" / "custom_notice.j2").write_text("{% block text %}Hi{% endblock %}")
    policy = ws / "policies" / "b2b.yaml"
    text = policy.read_text().replace("template: notice_final", "template: custom_notice")
    policy.write_text(text)
    line = next(i for i, t in enumerate(text.splitlines(), 1) if "custom_notice" in t)
    assert main(["-w", str(ws), "template", "check", "--language", "fr"]) == 1
    err = " ".join(capsys.readouterr().err.split())
    assert f"{tpl}/en/typo.j2:3: unknown variable 'debtr'" in err
    assert f"{tpl}/es/broken.j2:2: " in err
    assert f"{tpl}/de/bad_filter.j2:3: filter money takes 2 positional arguments" in err
    for lang in ("de", "es", "fr", "pt_BR"):  # the debtors' languages and --language
        assert f"{policy}:{line}: template 'custom_notice' has no '{lang}' text" in err
    assert "'en' text" not in err


def test_a_fallback_is_recorded_on_the_message_sent(ws: Path) -> None:
    policy = ws / "policies" / "b2b.yaml"
    text = policy.read_text()
    assert "template: notice_overdue_sms}" in text
    policy.write_text(text.replace("template: notice_overdue_sms}", "template: custom_sms}"))
    (ws / "templates" / "en" / "custom_sms.j2").write_text(
        '{% block text %}{{ days_past_due | plural("{n} day", "{n} days") }} late{% endblock %}'
    )
    assert main(["-w", str(ws), "run", "--as-of", DAY.isoformat()]) == 0
    assert main(["-w", str(ws), "dispatch", "--as-of", DAY.isoformat()]) == 0
    (sms,) = (ws / "outbox" / "sms").glob("G1-*.json")
    assert json.loads(sms.read_text())["text"] == "1 day late"  # English, for a German debtor
    with engine_of(ws).connect() as conn:
        sending = {
            r.subject_id.split(":")[2]: r.payload
            for r in conn.execute(select(activity).where(activity.c.kind == "message.sending"))
        }
    assert sending["G1"]["template"] == "en/custom_sms.j2"
    assert (sending["G1"]["language"], sending["G1"]["fallback_from"]) == ("en", "de")
    assert sending["E1"]["template"] == "es/notice_overdue.j2"
    assert "fallback_from" not in sending["E1"]
