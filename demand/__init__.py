"""Demand: population, attractors, gravity model and seeded trip-request streams."""
