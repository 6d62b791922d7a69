"""CLI verbs, one module per domain; each exposes ``register(app)``."""
