"""Subsidy: facts."""
