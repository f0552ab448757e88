"""Templates: sandboxed, autoescaped HTML, Babel formatting per locale, checked by policy check."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from jinja2.exceptions import SecurityError

from arrears.channels.templates import (
    VARIABLES,
    TemplateBroken,
    TemplateMissing,
    check_template,
    render,
    shipped_root,
)
from arrears.cli.app import main

HOSTILE = "<script>alert(1)</script> {{ 7*7 }} \u202eevil\u202c 😀\r\nBcc: x@evil.test"


def _vars(name: str = "Ana", currency: str = "USD") -> dict[str, object]:
    inv = {
        "number": "F-1<b>",
        "reference": None,
        "instalment": 1,
        "due_date": date(2026, 11, 22),
        "days_past_due": 3,
        "currency": currency,
        "amount": 123450,
        "open": 123450,
    }
    return {
        "debtor": {"id": "D1", "name": name, "email": "a@b.test"},
        "invoices": [inv],
        "totals": [{"currency": currency, "open": 123450, "overdue": 123450}],
        "days_past_due": 3,
        "offer": {"instalments": 6},
        "payment_link": "https://pay.test/D1",
        "opt_out_link": "https://o.test/?d=D1",
        "collector": {"name": "Col", "email": "c@x.test", "phone": ""},
        "creditor": {"name": "ACME"},
        "today": date(2026, 11, 25),
        "channel": "email",
    }


def _roots() -> list[Path]:
    root = shipped_root()
    assert root is not None
    return [root]


def test_amounts_and_dates_follow_the_debtors_locale() -> None:
    en = render(_roots(), "notice_overdue", "en", "US", _vars())
    assert "$1,234.50" in en.text and "22 Nov 2026" in en.text
    es = render(_roots(), "aviso_mora", "es", "CO", _vars(currency="COP"))
    assert "$1.234,50" in es.text and "22 nov 2026" in es.text
    assert es.subject == "Facturas vencidas: 3 días de mora"


def test_every_template_of_the_example_policies_exists_in_english_and_spanish() -> None:
    import re

    names = set()
    for policy in (Path(__file__).parents[1] / "examples" / "policies").glob("*.yaml"):
        names |= set(re.findall(r"template: *([A-Za-z0-9_]+)", policy.read_text()))
    assert len(names) >= 15
    for name in names:
        for lang in ("en", "es"):
            assert (_roots()[0] / lang / f"{name}.j2").is_file(), (lang, name)
            assert check_template(_roots(), name, lang) == []
            out = render(_roots(), name, lang, "US", _vars())
            assert "ACME" in out.text


def test_hostile_data_is_escaped_in_html_and_cannot_inject_headers() -> None:
    out = render(_roots(), "notice_overdue", "en", "US", _vars(name=HOSTILE))
    assert out.html is not None
    assert "<script>" not in out.html and "&lt;script&gt;" in out.html
    assert "F-1&lt;b&gt;" in out.html
    assert "{{ 7*7 }}" in out.text and "49" not in out.text  # data is never evaluated
    assert "\n" not in out.subject and "\r" not in out.subject


def test_the_sandbox_refuses_code_and_files(tmp_path: Path) -> None:
    (tmp_path / "en").mkdir()
    (tmp_path / "en" / "evil.j2").write_text(
        "{% block text %}{{ ''.__class__.__mro__[1].__subclasses__() }}{% endblock %}"
    )
    (tmp_path / "en" / "read.j2").write_text(
        "{% block text %}{% include '../../../../etc/passwd' %}{% endblock %}"
    )
    with pytest.raises(SecurityError):
        render([tmp_path], "evil", "en", "US", _vars())
    with pytest.raises(Exception) as exc:  # the loader refuses paths out of its root
        render([tmp_path], "read", "en", "US", _vars())
    assert "root:" not in str(exc.value)


def test_unknown_variables_and_missing_templates_are_found(tmp_path: Path) -> None:
    (tmp_path / "en").mkdir()
    (tmp_path / "en" / "typo.j2").write_text("{% block text %}\nHi {{ debtr.name }}{% endblock %}")
    assert check_template([tmp_path], "typo", "en") == ["en/typo.j2:2: unknown variable 'debtr'"]
    assert "no template 'nope'" in check_template([tmp_path], "nope", "es")[0]
    with pytest.raises(TemplateMissing):
        render([tmp_path], "nope", "en", "US", _vars())
    with pytest.raises(TemplateBroken):
        render([tmp_path], "typo", "en", "US", _vars())
    assert {"debtor", "invoices", "totals", "offer", "opt_out_link"} <= VARIABLES


def test_policy_check_reports_the_template_reference(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = (Path(__file__).parents[1] / "examples" / "policies" / "b2b.yaml").read_text()
    (tmp_path / "policies").mkdir()
    (tmp_path / "templates" / "en").mkdir(parents=True)
    bad = src.replace("template: notice_second", "template: notice_secnd")
    (tmp_path / "templates" / "en" / "notice_overdue.j2").write_text(
        "{% block text %}{{ amount_due }}{% endblock %}"
    )
    path = tmp_path / "policies" / "b2b.yaml"
    path.write_text(bad)
    assert main(["policy", "check", str(path)]) == 1
    err = capsys.readouterr().err
    line = next(i for i, t in enumerate(bad.splitlines(), 1) if "notice_secnd" in t)
    column = bad.splitlines()[line - 1].index("notice_secnd") + 1
    assert f"{path}:{line}:{column}: template 'notice_secnd': no template" in err
    assert "template 'notice_overdue': en/notice_overdue.j2:1: unknown variable 'amount_due'" in err
