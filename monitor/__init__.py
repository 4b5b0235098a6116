"""Telegram channel monitor: archive, search and analysis of public channels."""

__version__ = "0.1.0"
