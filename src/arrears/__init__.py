"""arrears: an open, ERP-agnostic collections platform.

Subpackages, from the core outwards:

- ``domain``: ledger types, money, allocation rules, activity records (pure, standard library only).
- ``kpi``: portfolio measures over columnar snapshots, such as aging (pure, Polars).
- ``store``: SQLAlchemy schema, Alembic migrations, ledger use cases, snapshot reading.
- ``io``: importing and exporting files (CSV, Excel, Parquet).
- ``demo``: the demo portfolio generator.
- ``cli``: the ``arrears`` command.
"""

__version__ = "0.1.0"
