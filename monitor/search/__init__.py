"""Search: the query language, its translation to FTS5, snippets, and the search service."""
