"""Routing core: road graphs, shortest paths, transit and trip planning (arrays in, arrays out)."""
