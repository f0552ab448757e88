"""Propensity to pay: point-in-time examples, gradient-boosted models, rules, backtest.

A core package: it imports no database, web or CLI library and never reads the clock. See
``docs/scoring.md``. The model's names are loaded on first use (PEP 562): importing the rules
score (``arrears.scoring.rules``) does not import scikit-learn, which takes seconds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from arrears.scoring.model import Model, NotEnoughHistory, Settings, score_frame, train

__all__ = ["Model", "NotEnoughHistory", "Settings", "score_frame", "train"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from arrears.scoring import model  # noqa: PLC0415

        return getattr(model, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
