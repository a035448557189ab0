"""Ballsy: a self-hostable voice assistant you talk to in the browser."""

__version__ = "0.1.0"
