"""Portfolio measures over columnar snapshots (aging, ...).

Pure functions of frames and ``as_of``."""
