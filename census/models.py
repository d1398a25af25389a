"""Stored census results (filled by the census rebuild)."""
