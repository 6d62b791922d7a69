"""Benchmark programs: each runs ours and a baseline side by side and writes JSON."""
