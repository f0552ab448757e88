"""The daily cycle: the pure decision engine over the whole portfolio.

Features, segments, stages, cases and cadences, computed in columnar form (see docs/cycle.md).
"""
