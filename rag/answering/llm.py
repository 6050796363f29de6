"""Optional answerer backed by an OpenAI-compatible chat endpoint (off by default).

The model only chooses: it is shown the best evidence sentences, numbered, and
replies with the numbers of the sentences that answer and the short answer in
each. Quotes are always the articles' own sentences, and every claim still goes
through citation verification, so a made-up span is never shown.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request

from ..citations import Claim
from ..evidence import EvidenceIndex
from ..question import AnalysedQuestion
from ..retrieve import Hit, Query
from .draft import Answerer, Draft

MAX_EVIDENCE = 12
SYSTEM_PROMPT = (
    "You answer questions using only the numbered sentences given, taken from news articles. "
    'Reply with JSON only: {"claims": [{"sentence": <number>, "answer": "<short answer copied '
    'exactly from that sentence>"}]}. Use one claim per sentence that answers; list dated events '
    'in time order. If no sentence answers the question, reply {"claims": []}.'
)


class LLMAnswerer:
    """Lets an LLM pick evidence and answer spans; falls back when the endpoint fails."""

    def __init__(
        self,
        evidence: EvidenceIndex,
        *,
        url: str,
        model: str,
        api_key: str = "",
        fallback: Answerer,
        timeout: float = 30.0,
    ) -> None:
        self.evidence = evidence
        self.url = url.rstrip("/") + "/chat/completions"
        self.model = model
        self.api_key = api_key
        self.fallback = fallback
        self.timeout = timeout

    def draft(self, question: AnalysedQuestion, query: Query, hits: list[Hit]) -> Draft:
        scored = self.evidence.score_sentences(question, query.vector, [h.chunk for h in hits])
        scored = scored[:MAX_EVIDENCE]
        if not scored:
            return Draft(abstained=True, reason="nothing relevant was retrieved")
        numbered = "\n".join(
            f"[{n}] ({s.chunk.where}) {s.sentence.text}" for n, s in enumerate(scored, start=1)
        )
        try:
            reply = self._complete(f"Question: {question.text}\n\nSentences:\n{numbered}")
            chosen = _parse_claims(reply)
        except (OSError, ValueError, KeyError, TypeError) as error:
            draft = self.fallback.draft(question, query, hits)
            draft.reason = f"LLM unavailable ({error}); answered without it"
            return draft
        claims = [
            Claim(chunk=scored[n - 1].chunk, quote=scored[n - 1].sentence.text, span=span or None)
            for n, span in chosen
            if 1 <= n <= len(scored)
        ]
        if not claims:
            return Draft(abstained=True, reason="the LLM found no answering sentence")
        return Draft(claims=claims)

    def _complete(self, prompt: str) -> str:
        body = json.dumps(
            {
                "model": self.model,
                "temperature": 0,
                "messages": [
                    {"role": "system", "content": SYSTEM_PROMPT},
                    {"role": "user", "content": prompt},
                ],
            }
        ).encode("utf-8")
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                payload = json.loads(response.read().decode("utf-8"))
        except urllib.error.HTTPError as error:
            raise OSError(f"HTTP {error.code} from {self.url}") from None
        return payload["choices"][0]["message"]["content"]


def _parse_claims(reply: str) -> list[tuple[int, str]]:
    """(sentence number, answer span) pairs from the model's JSON reply."""
    found = re.search(r"\{.*\}", reply, re.S)  # tolerate prose or code fences around the JSON
    if not found:
        raise ValueError("reply is not JSON")
    data = json.loads(found.group(0))
    return [(int(c["sentence"]), str(c.get("answer") or "").strip()) for c in data["claims"]]
