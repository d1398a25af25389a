"""Spot-pattern matching engine: features, index, scoring, calibration, evaluation."""
