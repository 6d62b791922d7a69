"""Test-side helpers that share no code with the project (independent oracles)."""
