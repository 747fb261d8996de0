"""Prefect flows, task wrappers, artifacts and the ``longterm`` CLI. Nothing imports this package."""
