"""CLI verbs of the fleet domain."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this domain's verbs to the elster app."""
