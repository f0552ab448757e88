"""Every refusal a user can meet on a page has English and Spanish words: the messages the use
cases behind the pages raise (walked from their source: problems, not-found, conflicts) each
have a Spanish text (``arrears.web.error_words``), and a Spanish collector reads them in
Spanish on the pages (the error page, the disputes page's problems), an English one as the
service said them."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from arrears.web import error_words
from arrears.web.i18n import TEXT
from test_web_app import Web, csrf_of, login
from test_web_disputes import an_undisputed_invoice, web  # noqa: F401 (the fixture)

SRC = Path(__file__).resolve().parents[1] / "src" / "arrears"
#: The use cases the pages (collectors' and debtor's) and the API call, and the domain rules
#: whose problems they pass on.
_GROUP = {
    "agreements": "arrangements",
    "settlements": "arrangements",
    "disputes": "arrangements",
    "collection": "casework",
    "write_offs": "arrangements",
    "agencies": "arrangements",
    "selfservice": "outreach",
    "self_agreements": "arrangements",
    "notes": "casework",
    "accounts": "casework",
}
REFUSING = [
    *(SRC / "services" / _GROUP[name] / f"{name}.py" for name in (
        "agreements", "settlements", "disputes", "collection", "write_offs", "agencies",
        "selfservice", "self_agreements", "notes", "accounts")),
    *(SRC / "domain" / f"{name}.py" for name in ("agreements", "disputes", "write_offs")),
]  # fmt: skip
RAISING = {"add", "of", "Problem", "NotFound", "Conflict", "append", "NotAllowed"}


def _template(node: ast.expr) -> str | None:
    """A string argument as a template (``{}`` where the service puts a value)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)  # type: ignore[misc]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _template(node.left), _template(node.right)
        return None if left is None or right is None else left + right
    return None


def refusals() -> list[tuple[str, int, str]]:
    """Every message template the refusing modules raise or report as a problem."""
    found = []
    for path in REFUSING:
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name not in RAISING:
                continue
            for arg in node.args:
                text = _template(arg)
                if text and " " in text.replace("{}", ""):  # words, not a lone value
                    found.append((path.name, node.lineno, text))
    return found


def _is_source(template: str) -> bool:
    """What a refusal is about (``plan for {}``; ``promises: {}``, another's message after
    it), not a refusal."""
    template = template.removesuffix(": {}")
    patterns = [
        "^" + "(.+?)".join(re.escape(p) for p in english.split("{}")) + "$"
        for english in error_words.SOURCES_ES
    ]
    return any(re.match(p, template) for p in patterns)


def test_every_refusal_of_the_use_cases_has_spanish_words() -> None:
    walked = refusals()
    assert len(walked) > 80  # the walk finds the services' messages
    missing = []
    for where, line, template in walked:
        if _is_source(template) or set(template.replace("{}", "").strip(" :")) == set():
            continue
        sample = template.replace("{}", "1")
        spanish = error_words.spanish(sample)
        if spanish is None or spanish == sample:
            missing.append(f"{where}:{line}: {template}")
        assert error_words.said(sample, "en") == sample  # English as the service said it
    assert not missing, "no Spanish for:\n" + "\n".join(missing)


def test_each_entry_has_both_languages_with_the_same_values() -> None:
    for english, spanish in error_words.REFUSALS_ES.items() | error_words.SOURCES_ES.items():
        assert english.strip() and spanish.strip() and english != spanish
        assert sorted(set(re.findall(r"\{(\d)\}", spanish))) == [
            str(i) for i in range(english.count("{}"))
        ], english
    for key in TEXT["en"]:  # the pages' own words too
        assert key in TEXT["es"], key


def test_a_spanish_collector_reads_the_refusals_in_spanish(web: Web) -> None:  # noqa: F811
    spanish = {"accept-language": "es"}
    assert login(web.client, "maria") == 303
    token = csrf_of(web.client.get("/disputes").text)
    number = an_undisputed_invoice(web.ws)
    form = {"csrf": token, "invoices": number, "reason": "quality"}
    assert web.client.post("/disputes", data=form).status_code == 303
    other = an_undisputed_invoice(web.ws)  # first: another key, the same invoice after it
    again = web.client.post(
        "/disputes", data=form | {"invoices": f"{other} {number}"}, headers=spanish
    )
    assert again.status_code == 422
    assert f"La factura {number}" in again.text and "ya está en disputa" in again.text
    gone = web.client.post("/disputes/99999/resolve", data={"csrf": token, "outcome": "rejected"},
                           headers=spanish)  # fmt: skip
    assert gone.status_code == 404 and "No existe la disputa 99999" in gone.text
    english = web.client.post("/disputes/99999/resolve",
                              data={"csrf": token, "outcome": "rejected"})  # fmt: skip
    assert english.status_code == 404 and "dispute 99999: no such dispute" in english.text
