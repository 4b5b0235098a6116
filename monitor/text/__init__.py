"""The one text pipeline shared by the index, search, watchlists and analysis."""

from monitor.text.pipeline import TextPipeline, Token

__all__ = ["TextPipeline", "Token"]
