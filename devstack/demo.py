"""Demo data loaded through the public API (filled in by the end-to-end work)."""

from __future__ import annotations


def load_demo_if_available(stack) -> None:
    """No demo data yet: the services' APIs come first."""
    return None
