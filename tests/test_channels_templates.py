"""Templates: sandboxed, autoescaped HTML, lines kept, Babel formatting and plurals per locale,
fallback by language, checked by policy check."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from jinja2.exceptions import SecurityError

from arrears.channels.templates import (
    LANGUAGES,
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
        "debtor": {"id": "D1", "name": name, "kind": "company", "email": "a@b.test"},
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
        "earlier_contacts": 0,
    }


def _roots() -> list[Path]:
    root = shipped_root()
    assert root is not None
    return [root]


def test_amounts_and_dates_follow_the_debtors_locale() -> None:
    en = render(_roots(), "notice_overdue", "en", "US", _vars())
    assert "$1,234.50" in en.text and "Nov 22, 2026" in en.text
    es = render(_roots(), "aviso_mora", "es", "CO", _vars(currency="COP"))
    assert "$1.234,50" in es.text and "22/11/2026" in es.text
    assert es.subject == "Facturas vencidas: 3 días de mora"
    de = render(_roots(), "notice_overdue", "de", "DE", _vars(currency="EUR"))
    assert "1.234,50\u00a0€" in de.text and "fällig am 22.11.2026 (3 Tage überfällig)" in de.text
    fr = render(_roots(), "notice_overdue", "fr", "FR", _vars(currency="EUR"))
    assert "1\u202f234,50\u00a0€" in fr.text and "22 nov. 2026" in fr.text


def test_every_template_of_the_example_policies_exists_in_english_and_spanish() -> None:
    import re

    names = set()
    for policy in (Path(__file__).parents[1] / "examples" / "policies").glob("*.yaml"):
        names |= set(re.findall(r"template: *([A-Za-z0-9_]+)", policy.read_text()))
    assert len(names) >= 15
    for name in names:
        for lang in LANGUAGES:
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


def _two_lines(days: tuple[int, int]) -> dict[str, object]:
    v = _vars(currency="EUR")
    first = dict(v["invoices"][0])  # type: ignore[index]
    v["invoices"] = [
        {**first, "number": "INV-1", "days_past_due": days[0]},
        {**first, "number": "INV-2", "days_past_due": days[1]},
        {**first, "number": "INV-3", "days_past_due": 0},
    ]
    return v


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_invoice_is_a_line_of_its_own(lang: str) -> None:
    out = render(_roots(), "notice_overdue", lang, "", _two_lines((1, 2)))
    lines = out.text.splitlines()
    for number in ("INV-1", "INV-2", "INV-3"):
        (line,) = [x for x in lines if number in x]
        assert line.startswith(f"- {number}"), line


def test_a_users_template_keeps_its_lines_without_plus_signs(tmp_path: Path) -> None:
    (tmp_path / "en").mkdir()
    (tmp_path / "en" / "mine.j2").write_text(
        "{% block text %}\n{% for inv in invoices %}\n"
        "- {{ inv.number }}{% if inv.days_past_due > 0 %} late{% endif %}\n"
        "{% endfor %}\nbye\n{% endblock %}\n"
    )
    out = render([tmp_path], "mine", "en", "US", _two_lines((1, 2)))
    assert out.text == "- INV-1 late\n- INV-2 late\n- INV-3\nbye"


@pytest.mark.parametrize(
    ("lang", "country", "one", "two"),
    [
        ("en", "US", "(1 day past due)", "(2 days past due)"),
        ("es", "CO", "(1 día de mora)", "(2 días de mora)"),
        ("pt", "BR", "(1 dia em atraso)", "(2 dias em atraso)"),
        ("fr", "FR", "(1 jour de retard)", "(2 jours de retard)"),
        ("de", "DE", "(1 Tag überfällig)", "(2 Tage überfällig)"),
    ],
)
def test_days_past_due_take_the_languages_plural(
    lang: str, country: str, one: str, two: str
) -> None:
    out = render(_roots(), "notice_overdue", lang, country, _two_lines((1, 2)))
    assert one in out.text and two in out.text
    sms = render(_roots(), "notice_overdue_sms", lang, country, {**_vars(), "days_past_due": 1})
    assert "1 days" not in sms.text and "1 días" not in sms.text and "1 dias" not in sms.text


def test_the_plural_filter_follows_cldr(tmp_path: Path) -> None:
    (tmp_path / "fr").mkdir()
    (tmp_path / "fr" / "p.j2").write_text(
        '{% block text %}{{ 0 | plural("{n} jour", "{n} jours") }}/'
        '{{ 1234 | plural("{n} jour", "{n} jours") }}{% endblock %}'
    )
    # French: 0 is singular; the number is formatted for the locale
    assert render([tmp_path], "p", "fr", "FR", _vars()).text == "0 jour/1\u202f234 jours"


def test_a_language_without_the_template_falls_back_and_says_so(tmp_path: Path) -> None:
    for lang in ("en", "es"):
        (tmp_path / lang).mkdir()
        (tmp_path / lang / "t.j2").write_text(
            f"{{% block text %}}{lang} {{{{ today | date }}}}{{% endblock %}}"
        )
    (tmp_path / "en" / "only.j2").write_text("{% block text %}{{ today | date }}{% endblock %}")
    es_co = render([tmp_path], "t", "es_CO", "CO", _vars())
    assert (es_co.language, es_co.fallback) == ("es", False)
    de = render([tmp_path], "t", "de", "DE", _vars())
    # English text, formatted in English for Germany: no German month names in English text
    assert (de.language, de.wanted, de.fallback) == ("en", "de", True)
    assert de.text == "en 25 Nov 2026"
    # the portfolio's language comes before English
    assert render([tmp_path], "t", "de", "DE", _vars(), portfolio_language="es_CO").text == (
        "es 25 nov 2026"
    )
    assert render([tmp_path], "only", "de", "DE", _vars(), "es").language == "en"


def test_the_default_signature_is_translated_and_a_workspaces_own_is_kept() -> None:
    from arrears import config
    from arrears.channels.templates import DEFAULT_COLLECTOR

    assert config.SETTINGS_BY_KEY["channels.collector_name"].default == DEFAULT_COLLECTOR
    v = _vars()
    v["collector"] = {"name": DEFAULT_COLLECTOR, "email": "", "phone": ""}
    assert "Forderungsmanagement" in render(_roots(), "notice_overdue", "de", "DE", v).text
    assert "Departamento de cartera" in render(_roots(), "notice_overdue", "es", "CO", v).text
    assert "\nCol\n" in render(_roots(), "notice_overdue", "de", "DE", _vars()).text


def test_an_error_in_a_parent_template_names_the_parent_and_its_line(tmp_path: Path) -> None:
    (tmp_path / "es").mkdir()
    (tmp_path / "es" / "base.j2").write_text(
        "{% block text %}\n\nHola {{ debtor.nmae }}{% endblock %}"
    )
    (tmp_path / "es" / "alias.j2").write_text('{% extends "es/base.j2" %}\n')
    with pytest.raises(
        TemplateBroken, match=r"^es/base.j2:3: 'dict object' has no attribute 'nmae'"
    ):
        render([tmp_path], "alias", "es", "CO", _vars())
