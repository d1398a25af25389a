"""Accounts, audit, location privacy and fault handling: who saw and changed what."""
