"""arrears: an open, ERP-agnostic collections platform.

Subpackages, from the front ends down to the pure core (docs/development.md has the picture; the
import-linter layers contract in pyproject.toml enforces it):

- ``cli``: the ``arrears`` command (Typer + Rich); ``web``: ``arrears serve`` (FastAPI). They
  parse, call one service and present; they hold no SQL.
- ``services``: the application layer: every use case (an actor, one transaction, its activity
  record, typed results, the ``domain.errors`` hierarchy) and read model, once.
- ``demo``: the demo portfolio generator; ``config``: workspace settings.
- ``io``: importing and exporting files (CSV, Excel, Parquet); ``channels``: templates,
  providers and the dispatcher.
- ``store``: SQLAlchemy schema, Alembic migrations, and each subsystem's SQL (``ledger``,
  ``loading``, ``cycle``, ``messages``, ``scoring``).
- ``scoring``: propensity-to-pay models; ``cycle``: the daily decision engine (Polars) and its
  effects; ``policy``: the strategy as checked YAML; ``kpi``: portfolio measures; ``contact``:
  contact rules and law packs (all pure).
- ``domain``: money, ledger types, allocation, activity kinds, errors, actors, the case's
  states, the import column catalogue (pure, standard library and Babel).
"""

__version__ = "0.1.0"
