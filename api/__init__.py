"""Adapters: the Typer CLI and the FastAPI service."""
