"""The signing secret through the user's paths: forged opt-out links on a workspace without
``channels.secret`` (over HTTP against ``arrears serve``, and ``arrears opt-out``), the random
secret ``arrears init`` writes to ``secrets.toml``, ``arrears dispatch`` refusing to send links
nobody can verify (and saying how to fix it), and ``arrears config`` masking secrets."""

from __future__ import annotations

from collections.abc import Iterator
from email import message_from_string, policy
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import func, select

from arrears import config
from arrears.channels.base import opt_out_url, sign
from arrears.cli.app import main
from arrears.store.schema import activity, consent, debtor, outbox
from channels_support import DAY, SENDING_ENV, base_workspace, copy_workspace, engine_of
from serve_support import Server, serve

SECRETS_FILE = "secrets.toml"  # beside arrears.toml (docs/configuration.md)


def _without_secret(ws: Path) -> Path:
    """``ws`` as a workspace made before ``arrears init`` wrote a secret: none anywhere."""
    (ws / SECRETS_FILE).unlink(missing_ok=True)
    assert config.load(ws, env={}).get("channels.secret") == ""
    return ws


@pytest.fixture
def ws(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> Path:
    return copy_workspace(base_workspace(tmp_path_factory.mktemp("sec")), tmp_path / "ws")


def _debtors(ws: Path, n: int) -> list[str]:
    with engine_of(ws).connect() as conn:
        return list(
            conn.execute(select(debtor.c.external_id).order_by(debtor.c.id).limit(n)).scalars()
        )


def _opted_out(ws: Path) -> tuple[int, int]:
    with engine_of(ws).connect() as conn:
        denied = conn.execute(
            select(func.count()).select_from(consent).where(consent.c.status == "denied")
        ).scalar_one()
        logged = conn.execute(
            select(func.count()).where(activity.c.kind == "message.opted_out")
        ).scalar_one()
    return int(denied), int(logged)


@pytest.fixture
def unsecured(ws: Path) -> Iterator[tuple[Path, Server]]:
    _without_secret(ws)
    for server in serve(ws, {}):
        yield ws, server


# -- item 2: no secret, no verifiable link ---------------------------------------------------


def test_forged_opt_out_links_are_refused_over_http_without_a_secret(
    unsecured: tuple[Path, Server],
) -> None:
    ws, server = unsecured
    before = _opted_out(ws)
    for who in _debtors(ws, 10):
        forged = opt_out_url(f"{server.base}/opt-out", "", who, "email")  # the empty key
        assert httpx.get(forged).status_code == 403
        answer = httpx.post(forged, data={"List-Unsubscribe": "One-Click"})
        assert answer.status_code == 403 and "Nothing was changed" in answer.text
    assert _opted_out(ws) == before


def test_arrears_opt_out_refuses_links_without_a_secret(
    ws: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ARREARS_CHANNELS_SECRET", raising=False)
    _without_secret(ws)
    before = _opted_out(ws)
    for who in _debtors(ws, 10):
        forged = opt_out_url("https://example.com/opt-out", "", who, "email")
        assert main(["-w", str(ws), "opt-out", forged]) == 1
        assert "channels.secret" in capsys.readouterr().err
    assert _opted_out(ws) == before


def test_init_writes_a_random_secret_that_signs_and_verifies(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ARREARS_CHANNELS_SECRET", raising=False)
    secrets = []
    for name in ("a", "b"):
        assert main(["init", str(tmp_path / name)]) == 0
        path = tmp_path / name / SECRETS_FILE
        assert path.stat().st_mode & 0o777 == 0o600
        secret = config.load(tmp_path / name).get("channels.secret")
        assert len(secret) >= 40 and secret not in (tmp_path / name / "arrears.toml").read_text()
        secrets.append(secret)
    assert secrets[0] != secrets[1]
    # running init again keeps the secret (links already sent stay valid)
    assert main(["init", str(tmp_path / "a")]) == 0
    assert config.load(tmp_path / "a").get("channels.secret") == secrets[0]
    # a workspace made before: init adds a secret and keeps its arrears.toml, policies and
    # templates as the user edited them
    old = tmp_path / "a"
    (old / SECRETS_FILE).unlink()
    edited = [old / "templates" / "en" / "notice_overdue.j2", old / "policies" / "b2b.yaml"]
    for path in edited:
        path.write_text(path.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    toml = (old / "arrears.toml").read_text()
    capsys.readouterr()
    assert main(["init", str(old)]) == 0
    assert SECRETS_FILE in "".join(capsys.readouterr().out.split())  # the path may wrap
    assert (old / "arrears.toml").read_text() == toml
    assert all(path.read_text(encoding="utf-8").endswith("# edited\n") for path in edited)
    assert len(config.load(old).get("channels.secret")) >= 40


def test_dispatch_refuses_to_send_unverifiable_links_and_says_how_to_fix(
    ws: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ARREARS_CHANNELS_SECRET", raising=False)
    for name, value in SENDING_ENV.items():
        monkeypatch.setenv(name, value)  # `arrears dispatch` sends at the day's sending time
    _without_secret(ws)
    assert main(["-w", str(ws), "dispatch", "--as-of", DAY.isoformat()]) == 1
    err = capsys.readouterr().err
    assert "channels.secret" in err and "arrears init" in err and "Traceback" not in err
    with engine_of(ws).connect() as conn:
        statuses = set(conn.execute(select(outbox.c.status)).scalars())
    assert statuses == {"queued"}
    assert not (ws / "outbox").exists()
    # with the secret init writes, the same workspace sends, and its links verify
    assert main(["init", str(ws)]) == 0
    assert main(["-w", str(ws), "dispatch", "--as-of", DAY.isoformat()]) == 0
    secret = config.load(ws).get("channels.secret")
    eml = next((ws / "outbox" / "email").glob("*.eml")).read_text()
    link = message_from_string(eml, policy=policy.default)["List-Unsubscribe"].strip("<>")
    query = {k: v[0] for k, v in parse_qs(urlsplit(link).query).items()}
    assert query["s"] == sign(secret, "opt-out", query["d"], query["c"])


# -- arrears config masks secrets -------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["table", "csv", "json"])
def test_config_prints_secrets_masked(
    ws: Path, fmt: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    values = {
        "ARREARS_CHANNELS_SECRET": "channel-signing-key-0123456789",
        "ARREARS_SMTP_PASSWORD": "hunter2-smtp-password",
        "ARREARS_TWILIO_AUTH_TOKEN": "twilio-token-0123456789",
        "ARREARS_WEBHOOK_TOKEN": "webhook-bearer-abcdef",
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    capsys.readouterr()
    assert main(["-w", str(ws), "config", "--format", fmt]) == 0
    out = capsys.readouterr().out
    for hidden in values.values():
        assert hidden not in out and hidden[:8] not in out
    assert "smtp.host" in out and "127.0.0.1" in out  # the rest as it is
    if fmt == "csv":
        lines = {line.split(",")[0]: line for line in out.splitlines()}
        assert lines["smtp.password"].startswith("smtp.password,********,environment")
        assert lines["smtp.username"].startswith('smtp.username,"",')  # not secret, empty


def test_config_masks_the_secret_init_wrote(
    ws: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ARREARS_CHANNELS_SECRET", raising=False)
    secret = config.load(ws).get("channels.secret")
    capsys.readouterr()
    assert main(["-w", str(ws), "config", "--format", "csv"]) == 0
    out = capsys.readouterr().out
    assert secret and secret not in out
    line = next(line for line in out.splitlines() if line.startswith("channels.secret,"))
    assert line.startswith("channels.secret,********,") and SECRETS_FILE in line


def test_secrets_toml_holds_secrets_only(ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with (ws / SECRETS_FILE).open("a", encoding="utf-8") as out:
        out.write('smtp.password = "from-the-file"\nlocale = "es_CO"\n')
    assert main(["-w", str(ws), "config"]) == 1
    err = capsys.readouterr().err
    assert "only secrets belong here" in err and "locale" in err and "Traceback" not in err
    assert "from-the-file" not in err


def test_config_masks_passwords_and_keys_in_urls(
    ws: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ARREARS_DATABASE_URL", "postgresql://app:s3cret-db-pw@db.example/arrears")
    hook = "https://hooks.example/send?channel=sms&api_key=k3y-in-url&Token=t0ken-in-url#x"
    monkeypatch.setenv("ARREARS_WEBHOOK_URL", hook)
    capsys.readouterr()
    assert main(["-w", str(ws), "config", "--format", "csv"]) == 0
    out = capsys.readouterr().out
    assert "s3cret-db-pw" not in out and "k3y-in-url" not in out and "t0ken-in-url" not in out
    assert "postgresql://app:***@db.example/arrears" in out
    assert "https://hooks.example/send?channel=sms&api_key=***&Token=***#x" in out
