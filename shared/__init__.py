"""Shared library of the social-work platform: what every service needs, nothing service-specific."""
