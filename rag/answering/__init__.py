"""The answer side: a trained reader picks the answer span, or says the articles don't.

- choose.py: how an answer is chosen (start here)
- reader.py: the reader model, its card and sha256 check; spans.py: span decoding
- draft.py: the Answerer protocol every backend implements
- llm.py: an optional OpenAI-compatible LLM in front of the reader
"""

from .draft import Answerer, Draft

__all__ = ["Answerer", "Draft"]
