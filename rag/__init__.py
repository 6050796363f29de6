"""Local, offline-first retrieval-augmented Q&A over news articles."""

__version__ = "0.1.0"
