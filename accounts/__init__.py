"""Accounts, roles, API tokens, audit and location privacy: who may see and do what.

The ground floor of the registry: every other app depends on it, and it
imports none of them (tests/test_architecture.py holds it to that).
"""
