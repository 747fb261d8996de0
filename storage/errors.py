"""Errors raised by the storage layer. Messages say what is wrong, where, and how to fix it."""


class DatasetError(ValueError):
    """A dataset is missing, incomplete, corrupt or of the wrong kind."""
