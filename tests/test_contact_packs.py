"""The shipped rule packs: they load from the package, overrides apply and fail loudly, and
each debtor gets the right pack."""

from __future__ import annotations

from datetime import time
from importlib import resources

import polars as pl
import pytest

from arrears.contact.packs import PACK_NAMES, PackError, effective_packs, pack_for, shipped_packs
from contact_book import debtor, debtors


def test_every_shipped_pack_loads_from_the_package_in_order() -> None:
    packs = shipped_packs()
    assert list(packs) == ["us-reg-f", "co-ley-2300", "uk-fca", "eu-b2b", "default"]
    for name in PACK_NAMES:
        assert resources.files("arrears.contact").joinpath("packs", f"{name}.yaml").is_file()
        assert packs[name].name == name
        assert packs[name].source


def test_the_laws_numbers_are_in_the_packs() -> None:
    packs = shipped_packs()
    us = packs["us-reg-f"]
    cap = next(c for c in us.caps if c.id == "call-cap")
    assert (cap.channels, cap.max, cap.days) == (["call"], 7, 7)
    assert us.conversation_quiet_days == 7
    assert us.hours["mon"] is not None and us.hours["sun"] is not None
    assert (us.hours["mon"].start, us.hours["mon"].end) == (time(8), time(21))
    co = packs["co-ley-2300"]
    assert co.hours["sat"] is not None and str(co.hours["sat"]) == "08:00-15:00"
    assert str(co.hours["fri"]) == "07:00-19:00"
    assert co.hours.get("sun") is None
    assert co.holidays_closed and co.authorised_channels_only and co.one_channel_per_week
    assert co.week == "rolling"
    daily = next(c for c in co.caps if c.id == "daily-cap")
    assert (daily.channels, daily.max, daily.days) == (None, 1, 1)
    uk = packs["uk-fca"]
    assert uk.breathing_space and not uk.caps and str(uk.hours["mon"]) == "08:00-21:00"
    assert "letter" not in us.hours_channels


def test_overrides_merge_hours_and_replace_values() -> None:
    packs = effective_packs(
        {"co-ley-2300": {"hours": {"sat": "07:00-15:00"}, "week": "calendar_week"}}
    )
    co = packs["co-ley-2300"]
    assert str(co.hours["sat"]) == "07:00-15:00"
    assert str(co.hours["mon"]) == "07:00-19:00"
    assert co.week == "calendar_week"
    assert effective_packs({"uk-fca": {"hours": {"sun": None}}})["uk-fca"].hours["sun"] is None


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"us-reg-f": {"caps": [{"id": "call-cap", "max": -1}]}},
            "contact_rules.us-reg-f.caps.0.max",
        ),
        ({"us-reg-f": {"hourz": {}}}, "contact_rules.us-reg-f.hourz"),
        ({"co-ley-2300": {"hours": {"sat": "15:00-08:00"}}}, "contact_rules.co-ley-2300.hours.sat"),
        ({"nowhere": {"x": 1}}, "contact_rules.nowhere: unknown pack"),
        ({"default": {"week": "fortnight"}}, "contact_rules.default.week"),
        (
            {
                "eu-b2b": {
                    "hours": {"mon": None, "tue": None, "wed": None, "thu": None, "fri": None}
                }
            },
            "at least one day",
        ),
    ],
)
def test_a_bad_override_names_the_pack_and_parameter(
    overrides: dict[str, dict[str, object]], message: str
) -> None:
    with pytest.raises(PackError, match=message.replace(".", r"\.")):
        effective_packs(overrides)


def test_pack_for_each_debtor() -> None:
    frame = debtors(
        [
            debtor(1, "US"),
            debtor(2, "US", kind="company"),
            debtor(3, "CO", kind="company"),
            debtor(4, "GB"),
            debtor(5, "ES"),
            debtor(6, "ES", kind="person"),
            debtor(7, "JP"),
            debtor(8, None),
            debtor(9, "de", kind="company"),
        ]
    )
    assert pack_for(frame, shipped_packs()).to_list() == [
        "us-reg-f",
        "default",
        "co-ley-2300",
        "uk-fca",
        "eu-b2b",
        "default",
        "default",
        "default",
        "eu-b2b",
    ]


def test_regions_narrow_a_pack() -> None:
    packs = effective_packs({"us-reg-f": {"regions": ["NY"]}})
    frame = debtors([debtor(1, "US", region="NY"), debtor(2, "US", region="CA")])
    assert pack_for(frame, packs).to_list() == ["us-reg-f", "default"]
    assert pack_for(frame.head(0), packs).dtype == pl.String()


def test_packs_ship_in_the_wheel() -> None:
    import tomllib
    from pathlib import Path

    config = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())
    # Hatch ships every file under the package folder (YAML included) unless excluded.
    assert "src/arrears" in config["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
    assert "exclude" not in config["tool"]["hatch"]["build"]["targets"]["wheel"]
