"""Subsidy: ledger."""
