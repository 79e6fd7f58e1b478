"""Subsidy: applications."""
