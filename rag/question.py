"""Question checking and analysis: what kind of answer is wanted, and about what."""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass

from .errors import RagError
from .terms import (
    STOP_WORDS,
    countries,
    country_stem,
    initialisms,
    is_rank,
    rank_phrases,
    stem,
    without_rank_positions,
    words,
)

MAX_QUESTION_CHARS = 1000


def normalise_question(text: str) -> str:
    """The question with control characters removed and spaces collapsed.

    RagError (shown to the user as a polite reply) when nothing askable is left
    or the question is too long to be one.
    """
    if text is None:
        raise RagError("Please type a question.")
    cleaned = "".join(" " if unicodedata.category(ch).startswith("C") else ch for ch in str(text))
    cleaned = re.sub(r"\s+", " ", cleaned).strip()
    if not cleaned:
        raise RagError("Please type a question.")
    if len(cleaned) > MAX_QUESTION_CHARS:
        raise RagError(
            f"That question is {len(cleaned):,} characters long; please ask in at most "
            f"{MAX_QUESTION_CHARS:,} characters."
        )
    if not re.search(r"\w", cleaned):
        raise RagError("Please ask a question in words.")
    return cleaned


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

# Which spaCy entity labels can answer each type. The small model mixes up
# ORG, PERSON and GPE for company and people names, so those form one class.
ENTITY_LABELS = {
    DATE: {"DATE"},
    MONEY: {"MONEY"},
    PERCENT: {"PERCENT"},
    NUMBER: {"CARDINAL", "QUANTITY"},  # "how many": a count, not a share or a sum
    AMOUNT: {"CARDINAL", "QUANTITY", "MONEY", "PERCENT"},  # "how much", "by how much"
    NAME: {"PERSON", "ORG", "GPE", "FAC"},
    # Places too: spaCy's small model often tags "Andhra Pradesh" or "Delhi NCR" as a name.
    PLACE: {"GPE", "LOC", "FAC", "ORG", "PERSON"},
}

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


def _closest(word: str, vocabulary: frozenset[str]) -> str | None:
    """The article word a misspelt question word most likely means, if one is close."""
    if len(word) < 5:
        return None
    allowed = 1 if len(word) < 8 else 2  # edits a typo may make: "xiamoi", "manufactring"
    for found in difflib.get_close_matches(word, vocabulary, n=5, cutoff=0.75):
        if typo_distance(word, found) <= allowed:
            return found
    return None


def typo_distance(a: str, b: str) -> int:
    """Edits (insert, delete, substitute, swap two neighbours) that turn ``a`` into ``b``."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        row = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            row[j] = min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                row[j] = min(row[j], previous2[j - 2] + 1)
        previous2, previous = previous, row
    return previous[-1]


MONTH_WORDS = frozenset(
    [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ]
)
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
    prefer: frozenset[str] = frozenset()  # entity labels most likely to hold the answer
    answer_nouns: frozenset[str] = frozenset()  # "what record": the answer is a record
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
                word = _closest(word, vocabulary) or word
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
        prefer=preferred_labels(text, kind),
        answer_nouns=frozenset(stem(w) for w in answer_nouns if w not in STOP_WORDS),
        initialisms=tuple(initialisms(text).items()),
    )


_ASKS_FOR_ORGANISATION = re.compile(
    r"\b(which|what) "
    + _MODIFIERS
    + r"(compan(y|ies)|firms?|brands?|manufacturers?|partners?|startups?|start-ups?|vendors?|"
    r"competitors?|rivals?|banks?|agency|agencies|research firm|newspapers?)\b",
    re.I,
)


def preferred_labels(text: str, kind: str) -> frozenset[str]:
    """Within a type, the labels to try first ("who" wants a person, "which firm" an ORG)."""
    if kind == NAME:
        return frozenset({"ORG"} if _ASKS_FOR_ORGANISATION.search(text) else {"PERSON"})
    return frozenset({NUMBER: {"CARDINAL", "QUANTITY"}, PLACE: {"GPE", "LOC"}}.get(kind, set()))


# -- follow-ups ----------------------------------------------------------------

_FOLLOWUP_LEAD = re.compile(
    r"^\s*(and|but|also|so|then|ok|okay|what about|how about|and what about|and how about|"
    r"what of|and in|same for)\b[\s,]*",
    re.I,
)
# A follow-up depends on the earlier turn through one of these, standing for its subject.
_PRONOUN = re.compile(r"\b(it|its|it['’]s|they|them|their|theirs|he|him|his|she|her|hers)\b", re.I)
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
_WH = re.compile(r"\b(what|which|who|whom|whose|when|where|why|how)\b", re.I)
_YEAR = re.compile(r"\b(19|20)\d{2}\b")
_SUBJECT = re.compile(r"\b([A-Z][\w’'-]*(?:\s+[A-Z][\w’'-]*)*)")


@dataclass(frozen=True)
class Rewrite:
    standalone: str  # what is retrieved with, and reported to the user
    focus: str  # the part whose names and numbers are required
    context: str = ""  # words carried over from the earlier turn (never required)


def _message_text(content) -> str | None:
    """The text of a chat message's content: a string, or Gradio's list of typed parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list | tuple):
        parts = [p.get("text") for p in content if isinstance(p, dict) and p.get("type") == "text"]
        texts = [p for p in parts if isinstance(p, str)]
        return " ".join(texts) if texts else None
    return None


def previous_questions(history) -> list[str]:
    """User questions from a chat history: message dicts, (user, bot) pairs or strings."""
    questions = []
    for turn in history or []:
        if isinstance(turn, str):
            questions.append(turn)
        elif isinstance(turn, dict):
            text = _message_text(turn.get("content"))
            if turn.get("role", "user") == "user" and text is not None:
                questions.append(text)
        elif isinstance(turn, list | tuple) and turn and isinstance(turn[0], str):
            questions.append(turn[0])
    return [q for q in (" ".join(q.split()) for q in questions) if q]


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


def _stand_in(pronoun: str, previous: str, following: str) -> str | None:
    """What ``pronoun`` stands for in a follow-up to ``previous`` (None: nothing fits)."""
    lowered = pronoun.lower().replace("’", "'")
    role = _ROLE_PHRASE.search(previous) if lowered in _PERSON_PRONOUNS else None
    who = role.group(0) if role else _subject(previous)
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


def _resolve_pronouns(text: str, previous: str) -> str:
    """``text`` with each pronoun replaced by what it stands for in ``previous``."""

    def replace(match: re.Match) -> str:
        return _stand_in(match.group(1), previous, text[match.end() :]) or match.group(0)

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


def _core(question: str) -> str:
    kept = [w for w in question.rstrip("?").split() if w.lower() not in QUESTION_WORDS]
    return " ".join(kept)


def rewrite_followup(question: str, previous: str | None) -> Rewrite:
    """Make a follow-up standalone using the previous (already standalone) question.

    Only a question that really depends on the earlier turn is rewritten: one whose
    pronoun points back ("what is its market share?") or one with an elliptical
    lead ("and who took the top spot?", "what about 2023?"). Any other question
    stands alone however short it is or whatever language it is in, and the
    earlier question is never spliced into it: its words go along as context.
    """
    unchanged = Rewrite(question, question)
    if not previous:
        return unchanged
    lead = _FOLLOWUP_LEAD.match(question)
    rest = question[lead.end() :] if lead else question
    if not (lead or _refers_back(rest)):
        return unchanged
    rest = rest.strip().rstrip("?").strip()
    if not rest:
        return unchanged
    base = previous.strip().rstrip("?")
    if not _WH.search(rest) and not _PRONOUN.search(rest):
        # "what about 2023?" / "what about Samsung?": the earlier question with the
        # new year or name swapped in for its own, or the year added.
        detail = re.sub(r"^(in|for|during|of)\s+", "", rest, flags=re.I)
        if _YEAR.fullmatch(detail):
            merged = (
                _YEAR.sub(detail, base, count=1) if _YEAR.search(base) else f"{base} in {detail}"
            )
            return Rewrite(merged + "?", merged + "?")
        names = _names(base)
        if names and len(rest.split()) <= 3 and rest[:1].isupper():
            # The new name stands in for the last one named ("in Pune" -> "in Delhi").
            at = base.rfind(names[-1])
            merged = base[:at] + rest + base[at + len(names[-1]) :]
            return Rewrite(merged + "?", merged + "?")
    resolved = _resolve_pronouns(rest, previous)
    if resolved != rest and _WH.search(resolved):
        return Rewrite(resolved + "?", resolved + "?")
    # Otherwise the new words are the question; the earlier one's words help find passages.
    context = _core(previous)
    return Rewrite(f"{resolved} ({context})?", resolved + "?", context)


def rewrite_with_history(question: str, history) -> Rewrite:
    """Rewrite ``question`` given the earlier user turns, resolving each turn in order.

    Earlier turns with no words in them (emoji, punctuation) were never answered
    and are skipped rather than carried into the conversation.
    """
    standalone = None
    for earlier in previous_questions(history):
        if re.search(r"[^\W_]", earlier):
            standalone = rewrite_followup(earlier, standalone).standalone
    return rewrite_followup(question, standalone)
