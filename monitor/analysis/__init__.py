"""Detectors: pure functions over counts and series, `now` or the day passed in."""
