"""Portfolio measures over columnar frames: aging, DSO, CEI, bad debt, roll, cure and promise
rates (docs/aging.md, docs/kpi.md).

Pure functions of frames and dates (``as_of``, a period's ``start`` and ``end``)."""
