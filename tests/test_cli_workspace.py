"""``arrears init`` / ``config`` / ``db`` / ``portfolio`` as a user runs them."""

from pathlib import Path

import pytest

from arrears.cli.app import main


def test_init_creates_a_migrated_workspace(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = tmp_path / "ws"
    assert (
        main(
            [
                "init",
                str(ws),
                "--currency",
                "COP",
                "--country",
                "CO",
                "--timezone",
                "America/Bogota",
                "--locale",
                "es_CO",
            ]
        )
        == 0
    )
    assert (ws / "arrears.toml").is_file()
    assert (ws / "arrears.db").is_file()
    capsys.readouterr()
    assert main(["-w", str(ws), "config", "--format", "csv"]) == 0
    out = capsys.readouterr().out
    assert "base_currency,COP," in out
    assert main(["-w", str(ws), "portfolio", "list", "--format", "json"]) == 0
    assert '"base_currency": "COP"' in capsys.readouterr().out


def test_environment_overrides_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["init", str(tmp_path)]) == 0
    monkeypatch.setenv("ARREARS_LOCALE", "es_CO")
    capsys.readouterr()
    assert main(["-w", str(tmp_path), "config", "--format", "csv"]) == 0
    assert "locale,es_CO,environment ARREARS_LOCALE" in capsys.readouterr().out


def test_user_errors_are_one_line_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["-w", str(tmp_path / "missing"), "portfolio", "list"]) == 1
    err = capsys.readouterr().err
    assert "no arrears workspace" in err and "Traceback" not in err
    assert main(["init", str(tmp_path), "--currency", "XYZ"]) == 1
    assert "not an ISO 4217" in capsys.readouterr().err
    (tmp_path / "arrears.toml").write_text('allocation_rule = "random"\n')
    assert main(["-w", str(tmp_path), "config"]) == 1
    assert "expected one of" in capsys.readouterr().err


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["no-such-command"]) == 2
    assert main(["init", "--no-such-option"]) == 2


def test_every_setting_is_documented() -> None:
    from arrears.config import SETTINGS

    docs = (Path(__file__).resolve().parents[1] / "docs" / "configuration.md").read_text()
    for setting in SETTINGS:
        assert setting.doc
        assert f"`{setting.key}`" in docs, f"{setting.key} missing from docs/configuration.md"


def test_error_lines_keep_square_brackets(capsys: pytest.CaptureFixture[str]) -> None:
    from arrears.cli.output import error

    error("[import.columns.invoices] says due_date is the header 'Vence'")
    assert "[import.columns.invoices] says due_date" in capsys.readouterr().err
