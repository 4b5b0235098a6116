"""Importers of archives made outside the collector."""
