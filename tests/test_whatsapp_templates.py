"""WhatsApp messages a business starts name an approved template: the workspace maps a policy's
template to the approved one (``[whatsapp.templates.<template>]`` name, language, params); the
dispatcher sends its name, language and rendered parameters, not free text, to the HTTP
provider (a real local server here); without one, nothing goes to a provider, and ``arrears
template check`` reports the policy's WhatsApp steps that lack one."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from arrears import config
from arrears.cli.app import main
from arrears.domain.actor import Actor, Role
from arrears.services.outreach import messages
from arrears.services.uow import SqlUnitOfWork
from arrears.store.schema import contact_point, debtor, outbox
from channels_support import (
    DAY,
    SENDING_ENV,
    SENDING_TIME,
    Provider,
    base_workspace,
    copy_workspace,
    engine_of,
    provider_server,
)

#: the shipped Colombian policy's WhatsApp step
_WA = "channel: whatsapp"
APPROVED = """
[whatsapp.templates.recordatorio_previo_whatsapp]
name = "payment_reminder_v2"
language = "es"
params = ["{{ debtor.name }}", "{{ totals[0].open | money(totals[0].currency) }}",
          "{{ payment_link }}"]
"""


def _no_catalogue(ws: Path) -> None:
    """Take out the approved-template entry ``arrears init`` writes for the shipped policy: these
    tests start from a workspace without one."""
    toml = ws / "arrears.toml"
    toml.write_text(
        toml.read_text("utf-8").split("\n[whatsapp.templates.")[0] + "\n", encoding="utf-8"
    )


@pytest.fixture
def ws(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    for name, value in SENDING_ENV.items():
        monkeypatch.setenv(name, value)
    ws = copy_workspace(base_workspace(tmp_path_factory.mktemp("whatsapp")), tmp_path / "ws")
    _no_catalogue(ws)
    # the queued SMS go out on WhatsApp with the shipped WhatsApp template
    with engine_of(ws).begin() as conn:
        conn.execute(
            update(outbox)
            .where(outbox.c.channel == "sms")
            .values(channel="whatsapp", template="recordatorio_previo_whatsapp")
        )
    return ws


def _whatsapp(ws: Path) -> list[dict[str, object]]:
    with engine_of(ws).connect() as conn:
        query = (
            select(outbox, debtor.c.name, debtor.c.external_id)
            .join(debtor, debtor.c.id == outbox.c.debtor_id)
            .where(outbox.c.channel == "whatsapp")
        )
        return [dict(r._mapping) for r in conn.execute(query)]


def test_the_provider_gets_the_approved_template_and_its_parameters(
    ws: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    queued = _whatsapp(ws)
    assert queued, "the test needs WhatsApp messages"
    (ws / "arrears.toml").write_text(
        (ws / "arrears.toml").read_text("utf-8") + APPROVED, encoding="utf-8"
    )
    with provider_server() as port:
        monkeypatch.setenv("ARREARS_CHANNELS_WHATSAPP", "webhook")
        monkeypatch.setenv("ARREARS_WEBHOOK_URL", f"http://127.0.0.1:{port}/send")
        assert main(["-w", str(ws), "dispatch", "--as-of", DAY.isoformat()]) == 0
        bodies = [json.loads(r["body"]) for r in Provider.requests]
    sent = [r for r in _whatsapp(ws) if r["status"] == "sent"]
    assert sent and len(bodies) == len(sent)
    names = {str(r["name"]) for r in sent}
    for body in bodies:
        assert body["channel"] == "whatsapp" and "text" not in body  # no free text
        template = body["template"]
        assert template["name"] == "payment_reminder_v2" and template["language"] == "es"
        name, amount, link = template["params"]
        assert name in names
        assert any(c.isdigit() for c in amount)  # an amount, formatted
        assert link.startswith("https://pay.example.com/")


def test_without_an_approved_template_nothing_goes_to_the_provider(
    ws: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with provider_server() as port:
        monkeypatch.setenv("ARREARS_CHANNELS_WHATSAPP", "webhook")
        monkeypatch.setenv("ARREARS_WEBHOOK_URL", f"http://127.0.0.1:{port}/send")
        assert main(["-w", str(ws), "dispatch", "--as-of", DAY.isoformat()]) == 0
        assert not [r for r in Provider.requests if json.loads(r["body"])["channel"] == "whatsapp"]
    failed = [r for r in _whatsapp(ws) if r["status"] == "failed"]
    assert failed
    for row in failed:
        assert "no approved WhatsApp template for 'recordatorio_previo_whatsapp'" in str(
            row["last_error"]
        )
        assert "whatsapp.templates.recordatorio_previo_whatsapp" in str(row["last_error"])


def _wrote(ws: Path, debtor_id: int, hours_before: float) -> None:
    """The debtor's WhatsApp reply, recorded as the provider's callback records it, that many
    hours before the messages leave."""
    with engine_of(ws).connect() as conn:
        phone = conn.execute(
            select(contact_point.c.value).where(
                contact_point.c.debtor_id == debtor_id, contact_point.c.kind == "phone"
            )
        ).scalar_one()
    done = messages.receive_reply(
        SqlUnitOfWork(engine_of(ws)), Actor("provider:test", Role.ADMIN),
        portfolio="default", channel="whatsapp", sender=phone,
        text="Hola, ¿puedo pagar el viernes?", ref=f"wamid.{debtor_id}",
        at=SENDING_TIME - timedelta(hours=hours_before),
    )  # fmt: skip
    assert done.recorded


def test_free_text_goes_only_within_24_hours_after_the_debtor_wrote(
    ws: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    queued = _whatsapp(ws)
    recent, old = sorted({int(r["debtor_id"]) for r in queued})[:2]
    _wrote(ws, recent, 2)  # inside the customer service window
    _wrote(ws, old, 25)  # outside it
    with provider_server() as port:
        monkeypatch.setenv("ARREARS_CHANNELS_WHATSAPP", "webhook")
        monkeypatch.setenv("ARREARS_WEBHOOK_URL", f"http://127.0.0.1:{port}/send")
        assert main(["-w", str(ws), "dispatch", "--as-of", DAY.isoformat()]) == 0
        bodies = [json.loads(r["body"]) for r in Provider.requests]
    after = {int(r["debtor_id"]): r for r in _whatsapp(ws)}
    ext = {int(r["debtor_id"]): str(r["external_id"]) for r in queued}
    sent = [b for b in bodies if b["channel"] == "whatsapp"]
    # the debtor who wrote two hours ago gets the rendered text (no approved template needed)
    assert [b["debtor"] for b in sent] == [ext[recent]]
    assert "template" not in sent[0] and "https://pay.example.com/" in sent[0]["text"]
    assert after[recent]["status"] == "sent"
    # the one who wrote 25 hours ago, and everyone else, does not
    assert after[old]["status"] == "failed"
    assert "free text only within 24 hours after the debtor wrote" in str(after[old]["last_error"])


def test_template_check_reports_a_whatsapp_step_without_an_approved_template(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = tmp_path / "ws"
    assert main(["init", str(ws)]) == 0
    _no_catalogue(ws)
    policy = Path(__file__).resolve().parents[1] / "examples" / "policies" / "co-cobranza.yaml"
    (ws / "cobranza.yaml").write_text(policy.read_text("utf-8"), encoding="utf-8")
    toml = ws / "arrears.toml"
    base = toml.read_text("utf-8")
    toml.write_text(base + '\npolicy = "cobranza.yaml"\n', encoding="utf-8")
    if "\npolicy =" in base:  # the setting is already there: replace it
        toml.write_text(
            "\n".join(
                'policy = "cobranza.yaml"' if line.startswith("policy =") else line
                for line in base.splitlines()
            )
            + "\n",
            encoding="utf-8",
        )
    capsys.readouterr()
    assert main(["-w", str(ws), "template", "check"]) == 1
    err = capsys.readouterr().err
    line = next(i for i, t in enumerate(policy.read_text("utf-8").splitlines(), 1) if _WA in t)
    assert (
        f"cobranza.yaml:{line}: WhatsApp step with template 'recordatorio_previo_whatsapp'"
        in " ".join(err.split())
    )
    toml.write_text(toml.read_text("utf-8") + APPROVED, encoding="utf-8")
    main(["-w", str(ws), "template", "check"])
    assert "WhatsApp step" not in capsys.readouterr().err


def test_a_broken_whatsapp_table_is_reported_whole(tmp_path: Path) -> None:
    (tmp_path / "arrears.toml").write_text(
        "[whatsapp.templates.reminder]\nlanguage = ''\nparams = 'x'\ncolour = 'red'\n",
        encoding="utf-8",
    )
    with pytest.raises(config.ConfigError) as caught:
        config.load(tmp_path, env={})
    message = str(caught.value)
    for part in (
        "whatsapp.templates.reminder.colour: unknown field",
        "whatsapp.templates.reminder.name: required",
        "whatsapp.templates.reminder.language: required",
        "whatsapp.templates.reminder.params: a list of texts",
    ):
        assert part in message


def test_a_twilio_compatible_provider_gets_the_content_sid_and_variables() -> None:
    from urllib.parse import parse_qs

    from arrears.channels.base import ChannelSettings, Message
    from arrears.channels.http import TwilioChannel
    from arrears.channels.whatsapp import Approved, extra

    found = Approved("reminder", "HX0123456789abcdef", "es", ())
    message = Message(
        key="case:1:x", idempotency_key="arrears-1", channel="whatsapp", to="+15551234",
        debtor="D1", language="es", subject="", text="free text, never sent",
        extra=extra(found, ["Ana Pérez", "1.200,50 €"]),
    )  # fmt: skip
    with provider_server() as port:
        settings = {
            "twilio.base_url": f"http://127.0.0.1:{port}",
            "twilio.account_sid": "AC1",
            "twilio.auth_token": "tt",
            "whatsapp.from": "+15559999",
        }
        channel = TwilioChannel(ChannelSettings(settings, Path(".")))
        assert channel.send(message) == "SM1"
        channel.close()
        form = parse_qs(Provider.requests[0]["body"].decode())
    assert "Body" not in form
    assert form["ContentSid"] == ["HX0123456789abcdef"]
    assert json.loads(form["ContentVariables"][0]) == {"1": "Ana Pérez", "2": "1.200,50 €"}
    assert form["To"] == ["whatsapp:+15551234"]
