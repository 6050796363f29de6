"""Fragments that stand in for part of an earlier question.

"and Mi Home stores?" after "How many Mi Preferred Partners does Acme have?" asks "How many
Mi Home stores does Acme have?"; "and which card network?" after "Which Chinese bank has
Acme tied up with?" asks "which card network has Acme tied up with?" (followup.py decides
when a question is such a fragment).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from .parsing import parsed as _parsed

WH = re.compile(r"\b(what|which|who|whom|whose|when|where|why|how)\b", re.I)
# How alike a phrase is to each of some others (cosine of sentence embeddings, say).
Similarity = Callable[[str, list[str]], list[float]]
# "which card network", "how many TVs", "who else": a question phrase standing alone.
_WH_FRAGMENT = re.compile(r"^(?:which|what|whose|who|whom|how many|how much)\s+\S", re.I)
_IDENTITY_WH = frozenset(["which", "what", "whose"])
_AMOUNT_WH = frozenset(["how", "many", "much"])
MAX_FRAGMENT_WORDS = 5


def _has_verb(text: str) -> bool:
    return any(t.pos_ in ("VERB", "AUX") for t in _parsed(text))


def _is_plural(token) -> bool:
    return token.tag_ in ("NNS", "NNPS")


# Entity labels of places: a place never stands in for a company or a person, nor one for it.
_PLACE_LABELS = frozenset(["GPE", "LOC", "FAC"])


def _is_place(tokens) -> bool | None:
    """Whether ``tokens`` name a place (None: spaCy has no label for them)."""
    labels = {t.ent_type_ for t in tokens if t.ent_type_}
    return bool(labels & _PLACE_LABELS) if labels else None


def _phrases(base: str) -> list[tuple[int, int, object, bool | None]]:
    """The phrases of ``base`` a fragment can stand in for: (start, end, head, is a place).

    Coordinated phrases count as one ("smartphones and TVs"); what a "which" or "what"
    asks for is not one (the fragment is about something else), but the things a "how
    many" counts are ("how many Mi Preferred Partners" -> "Mi Preferred Partners"); a
    possessor is one ("Xiaomi" in "Xiaomi's market share"), and so is what it possesses
    ("market share"); times are left to the time swap, pronouns to pronoun resolution.
    """
    doc = _parsed(base)
    chunks = list(doc.noun_chunks)
    found = []
    for chunk in chunks:
        if chunk.root.dep_ == "conj":
            continue
        words = list(chunk)
        before = doc[chunk.start - 1].lower_ if chunk.start > 0 else ""
        if before in _IDENTITY_WH or any(t.lower_ in _IDENTITY_WH for t in words):
            continue
        while words and (words[0].lower_ in _AMOUNT_WH or words[0].pos_ == "DET"):
            words = words[1:]
        possessive = next((i for i, t in enumerate(words) if t.dep_ == "case"), None)
        if possessive is not None:
            owner = words[:possessive]
            if owner and not any(t.pos_ == "PRON" for t in owner):
                end = owner[-1].idx + len(owner[-1].text)
                found.append((owner[0].idx, end, owner[-1], _is_place(owner)))
            words = words[possessive + 1 :]
        if not words or any(t.pos_ == "PRON" or t.ent_type_ in ("DATE", "TIME") for t in words):
            continue
        after = chunk.end
        while after < len(doc) and doc[after].like_num and doc[after].head in chunk:
            after += 1  # "the Redmi Note 4": spaCy may leave the model number outside
        end = max(
            [doc[after - 1].idx + len(doc[after - 1].text)]
            + [c.end_char for c in chunks if c.root in chunk.root.conjuncts]
        )
        found.append((words[0].idx, end, chunk.root, _is_place(words)))
    return found


_DETERMINER = re.compile(r"^(?:the|a|an)\s+", re.I)
_POSSESSIVE_END = re.compile(r"['’]s$")


def swap_phrase(base: str, fragment: str, similarity: Similarity | None) -> str | None:
    """``base`` with ``fragment`` standing in for its phrase of the same kind.

    "How many Mi Preferred Partners does Acme have?" + "Mi Home stores" -> "How many Mi Home
    stores does Acme have?". The phrase replaced agrees with the fragment in number, in
    being a name or not, and in being a place or not (when spaCy can tell); among those, the
    most similar one (or, with nothing to compare by, the last one, as a new name usually
    answers the last one named). "the profit" replaces "revenue" in "the revenue", and
    "Samsung's" the possessor in "Xiaomi's India head".
    """
    fragment = _POSSESSIVE_END.sub("", _DETERMINER.sub("", fragment.strip()))
    if not fragment or len(fragment.split()) > MAX_FRAGMENT_WORDS or _has_verb(fragment):
        return None
    parsed = _parsed(fragment)
    heads = [t for t in parsed if t.pos_ in ("NOUN", "PROPN")]
    if not heads:
        return None
    plural, named, place = _is_plural(heads[-1]), fragment[:1].isupper(), _is_place(parsed)
    fits = [
        (start, end)
        for start, end, head, is_place in _phrases(base)
        if _is_plural(head) == plural
        and base[start : start + 1].isupper() == named
        and (place is None or is_place is None or place == is_place)
    ]
    if not fits:
        return None
    if similarity is not None:
        scores = similarity(fragment, [base[start:end] for start, end in fits])
        start, end = fits[max(range(len(fits)), key=lambda i: scores[i])]
    else:
        start, end = fits[-1]
    return base[:start] + fragment + base[end:]


def _wh_kind(words: list[str]) -> str:
    """What a question phrase asks for: an amount ("how many/much") or an identity."""
    return "amount" if words[:1] == ["how"] else "identity"


def swap_question_phrase(base: str, fragment: str) -> str | None:
    """``base`` asking the fragment's question phrase instead of its own.

    "Which Chinese bank has Acme tied up with?" + "which card network" -> "which card
    network has Acme tied up with?". Only a question phrase of the same kind (an amount
    for an amount, a "which" for a "which") that names what it asks for ("Chinese bank",
    not a bare "who" or "why") is replaced.
    """
    if (
        len(fragment.split()) > MAX_FRAGMENT_WORDS
        or not _WH_FRAGMENT.match(fragment)
        or any(t.pos_ in ("VERB", "AUX", "ADP") for t in _parsed(fragment))
    ):
        # A verb makes it a question of its own; a preposition ("how many in Delhi") says
        # where or when, not what is asked for.
        return None
    doc = _parsed(base)
    if not len(doc) or not WH.fullmatch(doc[0].text):
        return None
    # The question phrase: its question words and the words describing what is asked for.
    last = 0
    while last + 1 < len(doc) and (
        doc[last + 1].lower_ in ("many", "much")
        or doc[last + 1].pos_ in ("ADJ", "NOUN", "PROPN", "NUM")
    ):
        last += 1
    asked = [t.lower_ for t in doc[: last + 1]]
    given = fragment.lower().split()
    if not any(t.pos_ in ("NOUN", "PROPN") for t in doc[1 : last + 1]) or (
        _wh_kind(asked) != _wh_kind(given) or asked[:2] != given[:2] and asked[0] == "how"
    ):
        return None
    end = doc[last].idx + len(doc[last].text)
    return fragment + base[end:]
