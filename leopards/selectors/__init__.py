"""Reads for the review queue, the catalogue of individuals and the blind checks."""
