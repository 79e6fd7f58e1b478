"""Subsidy: eligibility."""
