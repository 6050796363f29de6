"""Question analysis: what kind of answer is wanted, and about what."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz import process
from rapidfuzz.distance import OSA

from ..dates import MONTH_NAMES
from ..terms import (
    STOP_WORDS,
    country_stem,
    initialisms,
    is_rank,
    rank_phrases,
    stem,
    without_rank_positions,
    words,
)

# -- what kind of answer is wanted ---------------------------------------------

DATE, NUMBER, AMOUNT, MONEY, PERCENT, NAME, PLACE, OTHER = (
    "date",
    "number",
    "amount",
    "money",
    "percent",
    "name",
    "place",
    "other",
)

# Up to two words between "which" and its noun ("which local firm"), but not a verb phrase
# ("what is the company ...").
_MODIFIERS = r"(?:(?!(?:is|are|was|were|the|a|an|does|did|do|has|have|will)\b)\w+ ){0,2}"

_TYPE_PATTERNS: list[tuple[str, re.Pattern]] = [
    (
        DATE,
        re.compile(
            r"\bwhen\b|\bwhat (year|date|month|day|time|quarter|period)\b|"
            r"\b(which|in what|since what) (year|date|month|quarter|period)\b|\bsince when\b|"
            r"\bhow long ago\b",
            re.I,
        ),
    ),
    (
        PERCENT,
        re.compile(
            r"\b(what|which|how much) (percent|percentage|share|proportion)\b|"
            r"\bwhat\b[^?]*\b(market|online|offline) share\b|"
            r"\bwhat (part|fraction|portion) of\b|"
            r"\bby what (percent|percentage)\b|\bhow big a share\b",
            re.I,
        ),
    ),
    (
        MONEY,
        re.compile(
            r"\bhow much (money|revenue|cash|funding|investment|"
            r"did .* (earn|make|invest|raise|spend))"
            r"|\bhow much\b.*\b(revenue|cost|costs|price|worth|earn|invest|turnover|income|sales)\b"
            r"|\bwhat (was|is|were|are) ([\w’']+ ){0,2}(revenue|turnover|valuation|price)\b"
            r"|\b(revenue|sales) (target|goal|figure)\b|\bwhat (revenue|turnover|amount)\b"
            r"|\b(what|which|how big a|how large a) (fine|penalty|price|cost|salary|fee|"
            r"valuation|budget|investment)\b",
            re.I,
        ),
    ),
    (
        NUMBER,
        re.compile(
            r"\bhow many\b|\bwhat number of\b|\bnumber of\b.*\?$|"
            r"\bhow (large|big|high)\b.*\b(count|number)\b",
            re.I,
        ),
    ),
    (AMOUNT, re.compile(r"\bhow much\b|\bby how much\b|\bby what factor\b", re.I)),
    (
        PLACE,
        re.compile(
            r"\bwhere\b|\b(which|what|in what) (city|cities|state|states|country|"
            r"countries|region|place|town|location|part of)\b",
            re.I,
        ),
    ),
    (
        NAME,
        re.compile(
            r"\bwho\b|\bwhom\b|\bwhose\b|\b(which|what) "
            + _MODIFIERS
            + r"(company|companies|firms?|"
            r"brands?|person|people|executives?|officials?|ministers?|manufacturers?|partners?|"
            r"startups?|start-ups?|vendors?|competitors?|rivals?|banks?|agency|agencies|"
            r"research firm|newspapers?)\b|"
            r"\bname (of|the)\b.*\b(ceo|chief|head|president|founder|company|firm)\b",
            re.I,
        ),
    ),
]

QUESTION_WORDS = frozenset(
    [
        "apart",
        "besides",
        "except",
        "excluding",
        "aside",
        "what",
        "which",
        "who",
        "whom",
        "whose",
        "when",
        "where",
        "why",
        "how",
        "does",
        "did",
        "do",
        "is",
        "are",
        "was",
        "were",
        "can",
        "could",
        "would",
        "should",
        "will",
        "has",
        "have",
        "had",
    ]
)


def answer_type(question: str) -> str:
    """The expected answer type of ``question`` (one of the constants above)."""
    for kind, pattern in _TYPE_PATTERNS:
        if pattern.search(question):
            return kind
    return OTHER


# -- key terms -----------------------------------------------------------------

_TOKEN = re.compile(r"[\w$%]+(?:['’.-][\w]+)*")
_TYPE_NOUNS = (
    r"company|companies|firm|firms|brand|brands|person|people|executive|official|minister|"
    r"manufacturer|manufacturers|partner|partners|startup|start-up|vendor|competitor|rival|bank|"
    r"agency|newspaper|city|cities|state|states|country|countries|region|place|town|location"
)
# "which city", "what record did": the noun names the kind of answer, not what happened.
_ANSWER_NOUN = re.compile(
    r"\b(?:which|what)\s+" + _MODIFIERS + r"(" + _TYPE_NOUNS + r")\b|"
    r"\b(?:which|what)\s+(?:\w+\s+)?([a-z]+)\b(?=\s+(?:did|does|do|is|are|was|were|has|have|"
    r"will|would|can|could)\b)",
    re.I,
)
_EXCLUSION = re.compile(
    r"\b(?:apart from|besides|other than|except|excluding|aside from)\s+((?:[\w’'-]+\s?){1,3}?)"
    r"(?=[,?]|\s+(?:which|what|who|where|when|how|in|and|is|are|does|did|do)\b|$)",
    re.I,
)


def typo_edits(word: str) -> int:
    """Edits a typo of ``word`` may make: one, two in a word of 8 letters or more."""
    return 1 if len(word) < 8 else 2


@lru_cache(maxsize=8)
def _in_order(vocabulary: frozenset[str]) -> tuple[str, ...]:
    return tuple(sorted(vocabulary))  # equally close words: the same one every run


def closest_word(word: str, vocabulary: frozenset[str]) -> str | None:
    """The article word a misspelt ``word`` most likely means: the nearest within its typo
    edits (insert, delete, substitute, or swap two neighbours: "xiamoi" -> "xiaomi",
    "manufactring"), the first alphabetically of equally near ones. Words under 5 letters
    are too short to tell a typo from another word."""
    if len(word) < 5:
        return None
    found = process.extractOne(
        word, _in_order(vocabulary), scorer=OSA.distance, score_cutoff=typo_edits(word)
    )
    return found[0] if found else None


MONTH_WORDS = frozenset(MONTH_NAMES)
# Verbs and nouns that frame a question without saying what it is about.
LIGHT_WORDS = frozenset(
    [
        "get",
        "gets",
        "got",
        "have",
        "has",
        "make",
        "makes",
        "made",
        "take",
        "takes",
        "took",
        "go",
        "goes",
        "went",
        "give",
        "gives",
        "gave",
        "put",
        "role",
        "position",
        "title",
        "job",
        "name",
        "kind",
        "type",
        "sort",
    ]
)
_WHO_IS_NAME = re.compile(r"^\s*who\s+(is|was|are|were)\s+(mr\.?\s+|ms\.?\s+)?([^?]+?)\??$", re.I)


@dataclass(frozen=True)
class KeyTerm:
    stem: str
    word: str  # as typed
    required: bool  # a name or number: evidence must mention it
    from_context: bool = False  # carried over from an earlier turn
    frame: bool = False  # names the answer's type ("which city") or is a light verb ("get")
    name: int = 0  # words of one multi-word name share a number ("Atul Lall"); 0 = none


@dataclass(frozen=True)
class AnalysedQuestion:
    text: str
    kind: str
    terms: tuple[KeyTerm, ...]
    # "managing director" may be written "MD": (initialism, the stems it stands for)
    initialisms: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @property
    def required(self) -> tuple[KeyTerm, ...]:
        return tuple(t for t in self.terms if t.required)

    @property
    def counts(self) -> frozenset[str]:
        """Numbers in the question other than years ("third", "100"): part of what it asks."""
        # "1" is left out: "first" and "one" are mostly figures of speech ("first time").
        return frozenset(
            t.stem
            for t in self.terms
            if t.stem[:1].isdigit()
            and not t.from_context
            and t.stem != "1"
            and not re.fullmatch(r"(19|20)\d\d", t.stem)
        )

    @property
    def ranks(self) -> frozenset[str]:
        """Ranking positions the question asks about ("top spot" -> "rank1")."""
        return frozenset(t.stem for t in self.terms if is_rank(t.stem))

    @property
    def predicate(self) -> frozenset[str]:
        """Stems of what the question says about its names ("heads", "founded", "open")."""
        return frozenset(
            t.stem for t in self.terms if not (t.required or t.from_context or t.frame)
        )


def analyse_question(
    text: str,
    *,
    proper_nouns: frozenset[str] = frozenset(),
    context: str = "",
    vocabulary: frozenset[str] = frozenset(),
) -> AnalysedQuestion:
    """Expected answer type and key terms of ``text``.

    A term is required when it names something (capitalised mid-question, or a
    word the corpus itself only writes capitalised) or is a number: an answer
    about another company, country or year is not an answer. Terms of
    ``context`` (carried over from an earlier turn) help but are never required.
    A word the articles never use but nearly spell ("manufactring") is read as
    the word they use; names after "apart from" or "besides" are exclusions.
    """
    kind = answer_type(text)
    seen: set[str] = set()
    key_terms: list[KeyTerm] = []
    answer_nouns = {(m.group(1) or m.group(2)).lower() for m in _ANSWER_NOUN.finditer(text)}
    frame_words = answer_nouns | LIGHT_WORDS
    excluded = {w for m in _EXCLUSION.finditer(text) for w in words(m.group(1))}
    group, previous_named_at = 0, -2
    # "top spot" is asked for as a rank (below), not as the words "top" and "spot".
    rank_spans = rank_phrases(text)
    in_rank_phrase = [range(a, b) for a, b, _ in rank_spans]
    for position, match in enumerate(_TOKEN.finditer(without_rank_positions(text))):
        token = match.group(0)
        for word in words(token):
            if word in STOP_WORDS or word in QUESTION_WORDS:
                continue
            if vocabulary and word not in vocabulary and not word[:1].isdigit():
                word = closest_word(word, vocabulary) or word
            stemmed = country_stem(word)
            if stemmed in seen:
                continue
            seen.add(stemmed)
            named = (
                (position > 0 and token[:1].isupper()) or stemmed in proper_nouns
            ) and word not in MONTH_WORDS
            # Digits typed are exact; "first" or "one" is often just a way of speaking.
            numeric = any(ch.isdigit() for ch in token)
            frame = word in frame_words or stemmed in {stem(w) for w in frame_words}
            frame = frame or any(match.start() in span for span in in_rank_phrase)
            if word in excluded:
                named = numeric = False
                frame = True
            if named and position != previous_named_at + 1:
                group += 1  # a new name starts: "Atul Lall" is one name, two words
            if named:
                # A possessive ends a name: "Dixon's Atul Lall" is two names.
                previous_named_at = -2 if re.search(r"['’]s$", token) else position
            key_terms.append(
                KeyTerm(stemmed, token, named or numeric, frame=frame, name=group if named else 0)
            )
    for start, end, rank in rank_spans:  # a rank asked about must be stated
        if rank not in seen:
            seen.add(rank)
            key_terms.append(KeyTerm(rank, text[start:end], True))
    for word in words(context):
        if word not in STOP_WORDS and word not in QUESTION_WORDS and stem(word) not in seen:
            seen.add(stem(word))
            key_terms.append(KeyTerm(stem(word), word, False, from_context=True))
    # "Who is <name>?" asks for a description, not for another name.
    if kind == NAME and (match := _WHO_IS_NAME.match(text)):
        named = match.group(3).strip()
        rest = {stem(w) for w in words(named) if w not in STOP_WORDS}
        # "the CEO of X", "Xiaomi's founder" name a role: the answer is a name.
        is_role = re.match(r"(the|a|an)\b", named, re.I) or re.search(r"['’]s\b", named)
        if rest and not is_role and all(t.required for t in key_terms if t.stem in rest):
            kind = OTHER
    return AnalysedQuestion(
        text=text,
        kind=kind,
        terms=tuple(key_terms),
        initialisms=tuple(initialisms(text).items()),
    )


_ASKS_FOR_ORGANISATION = re.compile(
    r"\b(which|what) "
    + _MODIFIERS
    + r"(compan(y|ies)|firms?|brands?|manufacturers?|partners?|startups?|start-ups?|vendors?|"
    r"competitors?|rivals?|banks?|agency|agencies|research firm|newspapers?)\b",
    re.I,
)


def asks_for_organisation(text: str) -> bool:
    """ "Which company ...?", "what local firm ...?": a name, and an organisation's."""
    return _ASKS_FOR_ORGANISATION.search(text) is not None
