"""Propensity to pay: point-in-time examples, gradient-boosted models, rules, backtest.

A core package: it imports no database, web or CLI library and never reads the clock. See
``docs/scoring.md``.
"""

from arrears.scoring.model import Model, NotEnoughHistory, Settings, score_frame, train

__all__ = ["Model", "NotEnoughHistory", "Settings", "score_frame", "train"]
