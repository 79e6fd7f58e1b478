"""Subsidy: reports."""
