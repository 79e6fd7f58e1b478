"""Subsidy: policies."""
