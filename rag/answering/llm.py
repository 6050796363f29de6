"""Optional answerer backed by an OpenAI-compatible chat endpoint (off by default).

The model only chooses: it is shown the best evidence sentences, numbered, and
replies with the numbers of the sentences that answer and the short answer in
each. Quotes are always the articles' own sentences, and every claim still goes
through citation verification, so a made-up span is never shown.
"""

from __future__ import annotations

import json

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
        import httpx
        from openai import OpenAI  # only when an LLM is configured

        self.evidence = evidence
        self.url = url
        self.model = model
        self.fallback = fallback
        # The articles' sentences go to ``url`` and nowhere else: no proxy from the
        # environment, no redirect followed, the URL, key, organisation and project given
        # here rather than read from OPENAI_* variables; no retries (a failure falls back
        # to the reader at once).
        key = api_key or "none"
        self.client = OpenAI(
            base_url=url,
            api_key=key,
            organization="",
            project="",
            default_headers={"Authorization": f"Bearer {key}"},
            timeout=timeout,
            max_retries=0,
            http_client=httpx.Client(trust_env=False, follow_redirects=False, timeout=timeout),
        )

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
        # Whatever the server sent (an error, an empty or malformed reply), the reader answers.
        except Exception as error:
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
        response = self.client.chat.completions.create(
            model=self.model,
            temperature=0,
            messages=[
                {"role": "system", "content": SYSTEM_PROMPT},
                {"role": "user", "content": prompt},
            ],
        )
        content = response.choices[0].message.content
        if not isinstance(content, str):
            raise ValueError("the reply has no text")
        return content


def _parse_claims(reply: str) -> list[tuple[int, str]]:
    """(sentence number, answer span) pairs from the model's JSON reply: the first JSON object
    in it, whatever prose or code fence surrounds it."""
    decoder = json.JSONDecoder()
    for at, char in enumerate(reply):
        if char == "{":
            try:
                data, _ = decoder.raw_decode(reply, at)
            except json.JSONDecodeError:
                continue
            if isinstance(data, dict) and "claims" in data:
                return [
                    (int(c["sentence"]), str(c.get("answer") or "").strip()) for c in data["claims"]
                ]
    raise ValueError("reply holds no JSON claims")
