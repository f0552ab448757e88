"""The daily cycle: the pure decision engine (features, stages, segments, cadences) over the whole portfolio."""
