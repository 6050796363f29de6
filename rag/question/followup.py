"""Follow-ups: a question that leans on the conversation, made to stand alone.

A follow-up is rewritten only when it depends on an earlier turn: a pronoun that
points outside it ("when did he join?"), an elliptical lead ("and who took the top
spot?", "what about 2023?") or no words of its own ("why?", "when was that?").

What a pronoun stands for is read from the previous turn, answer included: the
name its answer gave when that name fits the pronoun (a person for "he", a company
or a product for "it"), otherwise what the previous question was about. Earlier
questions are never pasted in: only their names, dates and ranks (and a short
answer) go along, as context that helps find passages and is never required of
an answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..dates import MONTH_NAMES
from ..terms import STOP_WORDS, countries, rank_phrases
from .analysis import (
    MONTH_WORDS,
    NAME,
    OTHER,
    QUESTION_WORDS,
    answer_type,
    asks_for_organisation,
)
from .fragments import WH, Similarity, swap_phrase, swap_question_phrase
from .history import Turn, conversation
from .parsing import parsed as _parsed

_FOLLOWUP_LEAD = re.compile(
    r"^\s*(and|but|also|so|then|ok|okay|what about|how about|and what about|and how about|"
    r"what of|and in|same for)\b[\s,]*",
    re.I,
)
# A follow-up depends on the earlier turn through one of these.
_PRONOUN = re.compile(
    r"\b(it|its|it['’]s|they|them|their|theirs|he|him|his|she|her|hers|"
    r"(?:that|this) (?:company|firm|brand))\b(?:['’](ve|re|ll|d)\b)?",
    re.I,
)
# A pronoun's contraction, spelled out once a name stands in ("they've" -> "Acme have").
_CONTRACTED = {"ve": "have", "re": "are", "ll": "will", "d": "would"}
_PERSON_PRONOUNS = frozenset(["he", "him", "his", "she", "her", "hers"])
_POSSESSIVE_PRONOUNS = frozenset(["its", "their", "theirs", "his", "hers"])
# Titles name a role, not who holds it: "the CEO of Xiaomi India" is about Xiaomi India.
_ROLE = (
    r"co-?founders?|founders?|ceo|cfo|coo|cto|md|managing director|chairman|chairperson|"
    r"president|vice president|head|chief(?: \w+)? officer|boss|director"
)
_ROLE_WORDS = frozenset(
    "co-founder cofounder founder founders ceo cfo coo cto md managing director chairman "
    "chairperson president vice head chief officer boss executive".split()
)
_CAPITALISED = r"[A-Z][\w-]*(?:\s+[A-Z][\w-]*)*"
# "the CEO of Samsung India", "Xiaomi's founder": who "he" or "she" most likely is.
_ROLE_PHRASE = re.compile(
    rf"(?i:\bthe\s+)?(?i:{_ROLE})\s+(?i:of|at)\s+{_CAPITALISED}|"
    rf"\b{_CAPITALISED}['’]s\s+(?:[a-z]+\s+)?(?i:{_ROLE})\b"
)
_MONTHS = "|".join(MONTH_NAMES)
# "2023", "Q1 2023", "the first half of 2017", "March 2023": a time a question can be about.
_TIME_PHRASE = re.compile(
    r"\b(?:(?:(?:the\s+)?(?:first|second|third|fourth|last)\s+(?:quarter|half)\s+of|"
    r"q[1-4]|h[12]|" + _MONTHS + r")\s+)?(?:19|20)\d{2}\b|\b[qh][1-4]\b",
    re.I,
)
_DEMONSTRATIVE = re.compile(r"\b(that|this|these|those)\b", re.I)
_SUBJECT = re.compile(r"\b([A-Z][\w’'-]*(?:\s+[A-Z][\w’'-]*)*)")
# Words that leave a question about nothing of its own: "when was that?", "why so?".
_EMPTY_WORDS = frozenset(["that", "this", "so", "then", "exactly", "again", "happen", "happened"])
# Entity labels of things "it" or "they" can stand for (never a person, place or number).
_THING_LABELS = frozenset(["ORG", "PRODUCT", "WORK_OF_ART", "FAC", "EVENT", "LAW", "NORP"])
_LEADING_WORDS = re.compile(
    r"^(?:(?:the|a|an|by|from|with|to|of|in|on|at|about|around|since|over|under|nearly|"
    r"almost|it is|it's|it was)\s+)+",
    re.I,
)
# Labels of what neither "it" nor "he" can stand for: a time, an amount, a rank, a region.
_NEVER_A_REFERENT = frozenset(
    ["DATE", "TIME", "CARDINAL", "QUANTITY", "PERCENT", "MONEY", "ORDINAL", "LOC"]
)
_SMALL_WORDS = frozenset(["of", "and", "the", "for", "de", "&", "-"])
MAX_ANSWER_NAME_WORDS = 6
_COMPANY_SUFFIX = re.compile(
    r"(?:,?\s+(?:Ltd|Limited|Inc|Corp|Corporation|Co|Pvt|Private|LLC|PLC|GmbH|SA|AG)\.?)+$"
)


@dataclass(frozen=True)
class Rewrite:
    standalone: str  # what is retrieved with, and reported to the user
    focus: str  # the part whose names and numbers are required
    context: str = ""  # names and dates carried over from the earlier turn (never required)


# -- what a pronoun stands for ---------------------------------------------------------


def _names(question: str) -> list[str]:
    """Capitalised phrases after the first word ("Xiaomi", "Manu Jain", "Q1")."""
    return [m.group(1) for m in _SUBJECT.finditer(question, 1)]


def _is_subject_word(word: str) -> bool:
    """Whether a capitalised word can name what a question is about (not "CEO", "Q1", "Indian")."""
    lowered = word.lower()
    return not (
        lowered in _ROLE_WORDS
        or lowered in MONTH_WORDS
        or re.fullmatch(r"q[1-4]", lowered)
        or countries(lowered)
    )


def _subject(question: str) -> str | None:
    """The first name in ``question`` that is not a title, a quarter or a nationality.

    "Who is the CEO of Xiaomi India?" and "Who is Xiaomi India's CEO?" are both
    about "Xiaomi India", never about "CEO".
    """
    for name in _names(question):
        for part in re.split(r"['’]s\b\s*", name):
            run: list[str] = []
            for word in part.split():
                if _is_subject_word(word):
                    run.append(word)
                elif run:
                    break
            if run:
                return " ".join(run)
    return None


def _entities(text: str) -> tuple[tuple[str, str], ...]:
    return tuple((e.text, e.label_) for e in _parsed(text).ents)


def _noun_phrases(text: str) -> list[str]:
    """The noun phrases of a question without their question or article words
    ("How many service centres" -> "service centres", "the count" -> "count")."""
    phrases = []
    for chunk in _parsed(text).noun_chunks:
        kept = [
            t
            for t in chunk
            if t.lower_ not in QUESTION_WORDS and t.lower_ not in STOP_WORDS and not t.is_punct
        ]
        if kept:  # as written, from the first word kept to the last ("Lei Jun's plan")
            phrases.append(chunk.doc.text[kept[0].idx : kept[-1].idx + len(kept[-1].text)])
    return phrases


def _points_back(text: str) -> bool:
    """Whether ``text`` names something earlier with "that", "this", "these" or "those"
    before a noun ("that growth", "those phones")."""
    return any(
        t.lower_ in ("that", "this", "these", "those") and t.dep_ == "det" for t in _parsed(text)
    )


def _looks_like_a_name(phrase: str) -> bool:
    """ "Optiemus Electronics", "Redmi Note 4", "Manu Kumar Jain"; not "a new factory"."""
    words = phrase.split()
    return (
        0 < len(words) <= MAX_ANSWER_NAME_WORDS
        and words[0][:1].isupper()
        and all(w[:1].isupper() or w[:1].isdigit() or w.lower() in _SMALL_WORDS for w in words)
    )


def answer_name(question: str, answer: str | None) -> tuple[str, str | None] | None:
    """The name an answer gave and its entity label (None when spaCy has none for it).

    Only a question asking for a name ("who", "which company") or for a thing
    ("what is its best-selling phone?") can be answered with one; a date, a count
    or a place is never what a later "it" or "he" stands for.
    """
    if answer is None or answer_type(question) not in (NAME, OTHER):
        return None
    short = _LEADING_WORDS.sub("", re.split(r"[,;:(]| - | – ", answer, maxsplit=1)[0].strip())
    short = short.rstrip(" .!?")
    asked = question.lower()
    short = _COMPANY_SUFFIX.sub("", short)
    if countries(short.split()[0].lower() if short else "") and len(short.split()) > 1:
        short = short.split(maxsplit=1)[1]  # "Indian Optiemus Electronics" -> "Optiemus ..."
    if _looks_like_a_name(short) and short.lower() not in asked:
        # The label of an entity covering most of the name ("4" alone does not label
        # "Redmi Note 4").
        labels = [label for text, label in _entities(short) if len(text) * 2 >= len(short)]
        return short, (labels[0] if labels else None)
    # A whole sentence: the first entity it names that the question did not (to a "who"
    # question, a company the small model calls a place too).
    wanted = _THING_LABELS | {"PERSON"} | ({"GPE"} if answer_type(question) == NAME else set())
    for text, label in _entities(answer):
        if label in wanted and text.lower() not in asked:
            return text, label
    return None


def _answer_stands_for(pronoun: str, previous: Turn) -> str | None:
    """The previous answer's name, if it fits ``pronoun`` (a person for "he", a thing for "it")."""
    named = answer_name(previous.question, previous.answer)
    if named is None:
        return None
    name, label = named
    if label in _NEVER_A_REFERENT:
        return None
    asks_for_a_name = answer_type(previous.question) == NAME
    if pronoun in _PERSON_PRONOUNS:
        # spaCy's small model often has no label for a person's name ("Muralikrishnan B").
        fits = label == "PERSON" or (
            label is None and asks_for_a_name and not asks_for_organisation(previous.question)
        )
    elif label == "PERSON":
        fits = False
    elif asks_for_a_name:
        # "who makes them?" -> "Foxconn": the small model calls many companies places.
        fits = True
    else:
        fits = label is None or label in _THING_LABELS
    return name if fits else None


def _asks_for_a_person(question: str) -> bool:
    return answer_type(question) == NAME and not asks_for_organisation(question)


def _stand_in(pronoun: str, previous: Turn, following: str) -> str | None:
    """What ``pronoun`` stands for in a follow-up to ``previous`` (None: nothing fits)."""
    lowered = pronoun.lower().replace("’", "'")
    who = _answer_stands_for(lowered, previous)
    if who is None and lowered in _PERSON_PRONOUNS:
        role = _ROLE_PHRASE.search(previous.question)
        if role:
            who = role.group(0)
        elif _asks_for_a_person(previous.question):
            # "Who did the Acme team meet?" unanswered: "he" is that unknown person, not Acme.
            return None
    if who is None:
        who = _subject(previous.question)
    if who is None:
        return None
    # "her" is possessive before a noun ("her role"), an object otherwise ("hired her").
    next_word = re.match(r"\s+([a-z]+)", following, re.I)
    possessive = lowered in _POSSESSIVE_PRONOUNS or (
        lowered == "her" and next_word is not None and next_word.group(1).lower() not in STOP_WORDS
    )
    if lowered == "it's":
        return who + " is"
    return who + ("'s" if possessive else "")


def _resolve_pronouns(text: str, previous: Turn) -> str:
    """``text`` with each pronoun replaced by what it stands for in ``previous``."""

    def replace(match: re.Match) -> str:
        who = _stand_in(match.group(1), previous, text[match.end() :])
        if who is None:
            return match.group(0)
        contracted = match.group(2)
        return f"{who} {_CONTRACTED[contracted.lower()]}" if contracted else who

    return _PRONOUN.sub(replace, text)


def _refers_back(text: str) -> bool:
    """Whether a pronoun in ``text`` points outside it ("what is its market share?").

    A pronoun after a name of the question's own ("What did Samsung say about its
    sales?") and the "it" of "is it true" point within the question.
    """
    pronoun = _PRONOUN.search(text)
    if pronoun is None or re.search(r"\bis it (true|possible|likely)\b", text, re.I):
        return False
    return not any(
        name.start() < pronoun.start() and any(_is_subject_word(w) for w in name.group(1).split())
        for name in _SUBJECT.finditer(text, 1)
    )


def _has_no_words_of_its_own(text: str) -> bool:
    """ "why?", "when was that?", "how come?": nothing to look for without the earlier turn."""
    own = [
        w
        for w in re.findall(r"[\w’'-]+", text.lower())
        if w not in QUESTION_WORDS and w not in STOP_WORDS and w not in _EMPTY_WORDS
    ]
    return bool(re.search(r"\w", text)) and not own


# -- context carried over ----------------------------------------------------------


def carried_context(previous: Turn) -> list[str]:
    """What a follow-up carries over from the previous turn: the names, times, ranks and
    noun phrases of its question, and its answer when short ("Q1 2023", "Samsung")."""
    question = previous.question
    kept = _names(question) + _TIME_PHRASE.findall(question) + _noun_phrases(question)
    for start, end, _rank in rank_phrases(question):
        kept.append(re.sub(r"^(?:to|at|in|on|the)\s+", "", question[start:end], flags=re.I))
    if previous.answer and len(previous.answer.split()) <= MAX_ANSWER_NAME_WORDS:
        kept.append(previous.answer.rstrip(" ."))
    shown: list[str] = []
    for phrase in kept:
        # Once each, and not again inside a longer phrase ("Xiaomi" in "Xiaomi India's").
        if not any(phrase.lower() in other.lower() for other in shown):
            shown = [o for o in shown if o.lower() not in phrase.lower()] + [phrase]
    return shown


# -- rewriting ---------------------------------------------------------------------


def rewrite_followup(
    question: str, previous: Turn | str | None, similarity: Similarity | None = None
) -> Rewrite:
    """Make a follow-up standalone given the previous turn (its question already standalone).

    ``similarity`` (of a phrase to others) chooses which earlier phrase a bare phrase
    stands in for ("and Mi Home stores?"); without it, the last that fits.
    """
    unchanged = Rewrite(question, question)
    if isinstance(previous, str):
        previous = Turn(previous)
    if previous is None or not previous.question:
        return unchanged
    lead = _FOLLOWUP_LEAD.match(question)
    rest = question[lead.end() :] if lead else question
    empty = _has_no_words_of_its_own(rest)
    demonstrative = bool(_DEMONSTRATIVE.search(rest)) and _points_back(rest)
    if not (lead or empty or demonstrative or _refers_back(rest)):
        return unchanged
    rest = rest.strip().rstrip("?").strip()
    if not rest:
        return unchanged
    base = previous.question.strip().rstrip("?")
    if not WH.search(rest) and not _PRONOUN.search(rest) and not empty:
        # "what about 2023?" / "what about Samsung?": the earlier question with the
        # new year or name swapped in for its own, or the year added.
        detail = re.sub(r"^(in|for|during|of)\s+", "", rest, flags=re.I)
        if _TIME_PHRASE.fullmatch(detail):
            # The new time replaces the earlier one ("in Q4 2016" -> "in Q1 2023").
            merged = (
                _TIME_PHRASE.sub(lambda _: detail, base, count=1)
                if _TIME_PHRASE.search(base)
                else f"{base} in {detail}"
            )
            return Rewrite(merged + "?", merged + "?")
        # The new phrase stands in for the earlier one of its kind ("in Pune" -> "in Delhi").
        merged = swap_phrase(base, detail, similarity)
        if merged:
            return Rewrite(merged + "?", merged + "?")
    if lead and not _PRONOUN.search(rest):
        # "and which card network?": the earlier question, asking that instead.
        merged = swap_question_phrase(base, rest)
        if merged:
            return Rewrite(merged + "?", merged + "?")
    resolved = _resolve_pronouns(rest, previous)
    if resolved != rest and WH.search(resolved) and not demonstrative:
        return Rewrite(resolved + "?", resolved + "?")
    # Otherwise the new words are the question; the earlier turn's names help find passages.
    context = carried_context(previous)
    if not context:
        return Rewrite(resolved + "?", resolved + "?")
    joined = ", ".join(context)
    return Rewrite(f"{resolved} ({joined})?", resolved + "?", joined)


def rewrite_with_history(question: str, history, similarity: Similarity | None = None) -> Rewrite:
    """Rewrite ``question`` given the earlier turns, resolving each turn in order.

    Earlier turns with no words in them (emoji, punctuation) were never answered
    and are skipped rather than carried into the conversation.
    """
    previous: Turn | None = None
    for turn in conversation(history):
        if re.search(r"[^\W_]", turn.question):
            standalone = rewrite_followup(turn.question, previous, similarity).standalone
            previous = Turn(standalone, turn.answer)
    return rewrite_followup(question, previous, similarity)
