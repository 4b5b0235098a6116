"""Offline sentiment: a lexicon scorer written for this project, optionally a local model."""
