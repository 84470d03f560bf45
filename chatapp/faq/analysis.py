"""Turning questions and entries into search terms.

Entries are written in English; people ask in English, French or German, with
typos. These steps make those meet, each measured with `faq_eval`:

- synonyms: a question's French, German or colloquial words also search for the
  English word the entries use (`data/synonyms.json`), and common workplace
  words for their English translations (`data/lexicon.json`);
- German compounds are read as their parts when the parts are words the entries
  or the lists know: "Feueralarm" → "feuer" "alarm";
- word forms: English stems ("bikes", "booking" → "bike", "book") are searched
  too, and the French and German stems of the lists' words;
- character trigrams of each word, a second index, so "acess" still shares most
  of its pieces with "access".
"""

import json
import os
import re
import threading
import unicodedata
from collections.abc import Callable, Collection, Iterable
from functools import lru_cache
from pathlib import Path

import snowballstemmer
from bm25s.stopwords import STOPWORDS_EN_PLUS, STOPWORDS_FRENCH, STOPWORDS_GERMAN

SYNONYMS_FILE = Path(__file__).resolve().parent / "data" / "synonyms.json"
LEXICON_FILE = Path(__file__).resolve().parent / "data" / "lexicon.json"
WORD = re.compile(r"[a-z0-9]+")
# Words that matter in this domain although generic lists drop them ("time off", "site is down").
KEPT = {"off", "down", "up", "new", "first", "back", "home"}
# Question words and fillers of all three languages: they say nothing about the topic.
FILLERS = {
    "can",
    "could",
    "would",
    "should",
    "may",
    "might",
    "must",
    "shall",
    "need",
    "want",
    "please",
    "thanks",
    "do",
    "does",
    "did",
    "done",
    "get",
    "got",
    "know",
    "tell",
    "way",
    "someone",
    "anything",
    "thing",
    "i",
    "im",
    "ive",
    "id",
    "me",
    "my",
    "mine",
    "we",
    "our",
    "us",
    "you",
    "your",
    "s",
    "t",
    "d",
    "ll",
    "re",
    "ve",
    "comment",
    "quoi",
    "quel",
    "quelle",
    "quels",
    "quelles",
    "dois",
    "doit",
    "faire",
    "fait",
    "est",
    "ce",
    "puis",
    "wie",
    "was",
    "wo",
    "wann",
    "warum",
    "welche",
    "welcher",
    "welches",
    "muss",
    "kann",
    "soll",
    "ich",
    "mein",
    "meine",
    "meinen",
    "meinem",
    "tun",
    "gibt",
    "es",
}
STOPWORDS = (set(STOPWORDS_EN_PLUS) | set(STOPWORDS_FRENCH) | set(STOPWORDS_GERMAN) | FILLERS) - KEPT
NGRAM = 3


_STEMMERS = [snowballstemmer.stemmer(name) for name in ("french", "german")]
_ENGLISH = snowballstemmer.stemmer("english")
_STEMMING = threading.Lock()
# German joins a compound's parts with these: "Sicherheit-s-datenblatt".
LINKS = ("", "s", "es", "n", "en", "e")
MIN_PART = 3
MIN_COMPOUND = 7


@lru_cache(maxsize=50_000)
def stem(word: str) -> str:
    """The English stem: "bikes" → "bike", "booking" → "book"."""
    with _STEMMING:
        return str(_ENGLISH.stemWord(word))


def split_compound(word: str, known: Callable[[str], bool]) -> list[str]:
    """A German compound as its parts, when each part is `known`: "feueralarm" → ["feuer", "alarm"].

    The longest known head first, the rest split again; the word itself when no split works.
    """
    if len(word) < MIN_COMPOUND or known(word):
        return [word]
    for cut in range(len(word) - MIN_PART, MIN_PART - 1, -1):
        head, rest = word[:cut], word[cut:]
        if not known(head):
            continue
        for link in LINKS:
            if not rest.startswith(link) or len(rest) - len(link) < MIN_PART:
                continue
            tail = rest[len(link) :]
            if known(tail):
                return [head, tail]
            parts = split_compound(tail, known)
            if len(parts) > 1:
                return [head, *parts]
    return [word]


@lru_cache(maxsize=50_000)
def foreign_forms(word: str) -> frozenset[str]:
    """The word and its French and German stems: "beantrage" → {"beantrage", "beantrag"}.

    Cached because Snowball in pure Python is the slow part of a search; locked
    because a Snowball stemmer keeps state between calls and workers use threads.
    """
    with _STEMMING:
        return frozenset({word} | {stemmer.stemWord(word) for stemmer in _STEMMERS})


def fold(text: str) -> str:
    """Lower case without accents, so "Déploiement" and "deploiement" are one word."""
    text = unicodedata.normalize("NFKD", text.casefold().replace("ß", "ss"))
    return "".join(char for char in text if not unicodedata.combining(char))


def words(text: str) -> list[str]:
    return WORD.findall(fold(text))


class Analyzer:
    def __init__(self, synonym_groups: list[list[str]] | None = None, use_synonyms: bool = True) -> None:
        self.use_synonyms = use_synonyms
        self.synonyms: dict[tuple[str, ...], list[str]] = {}
        for group in synonym_groups if synonym_groups is not None else load_synonym_groups():
            canonical = words(group[0])
            for variant in group[1:]:
                key = tuple(words(variant))
                if len(key) == 1:
                    # Conjugated and plural forms: "beantrage" finds "beantragen".
                    for stem in self._variants(key[0]):
                        self.synonyms.setdefault((stem,), []).extend(canonical)
                self.synonyms.setdefault(key, []).extend(canonical)
        self.longest_phrase = max((len(key) for key in self.synonyms), default=1)
        self.known_words = {key[0] for key in self.synonyms if len(key) == 1}

    def tokens(self, text: str, vocabulary: Collection[str] = ()) -> list[str]:
        """The text's words, German compounds split into the parts the lists or `vocabulary` know."""

        def known(word: str) -> bool:
            # Not the parts' stems: a search tries many cuts, and stemming each is the slow part.
            return word in vocabulary or word in self.known_words

        return [part for token in words(text) for part in split_compound(token, known)]

    @staticmethod
    def _variants(word: str) -> frozenset[str]:
        return foreign_forms(word)

    def expansion_map(self, tokens: list[str]) -> dict[int, list[str]]:
        """For each position in `tokens`, the English words its synonyms stand for."""
        found: dict[int, list[str]] = {}
        if not self.use_synonyms:
            return found
        for start in range(len(tokens)):
            for length in range(1, self.longest_phrase + 1):
                window = tuple(tokens[start : start + length])
                if len(window) < length:
                    break
                canonical = self.synonyms.get(window)
                if canonical is None and length == 1:
                    canonical = next(
                        (self.synonyms[(v,)] for v in self._variants(window[0]) if (v,) in self.synonyms), None
                    )
                if canonical:
                    for position in range(start, start + length):
                        found.setdefault(position, []).extend(canonical)
        return found

    def expand(self, tokens: list[str]) -> list[str]:
        """The question's words plus the English words its synonyms stand for."""
        found = self.expansion_map(tokens)
        added = [word for position in sorted(found) for word in found[position]]
        present = set(tokens)
        return tokens + [word for word in dict.fromkeys(added) if word not in present]

    def asked_terms(self, text: str, vocabulary: Collection[str] = ()) -> list[tuple[str, frozenset[str]]]:
        """The question's content words, each with the English words its synonyms stand for.

        A word that is only part of a synonym phrase ("mot de passe") is a
        content word too: the phrase as a whole stands for "password".
        """
        tokens = self.tokens(text, vocabulary)
        expansions = self.expansion_map(tokens)
        asked: list[tuple[str, frozenset[str]]] = []
        for position, token in enumerate(tokens):
            synonyms = expansions.get(position, ())
            canonical = [word for word in synonyms if word not in STOPWORDS]
            # "obtenir" stands for "get": a filler in any language.
            if not canonical and (token in STOPWORDS or synonyms):
                continue
            asked.append((token, frozenset(canonical)))
        return asked

    def terms(self, text: str, expand: bool = False, vocabulary: Collection[str] = ()) -> list[str]:
        """Content words: the terms of the word index (see `SearchIndex` for their stems)."""
        tokens = self.tokens(text, vocabulary) if vocabulary else words(text)
        if expand:
            tokens = self.expand(tokens)
        return [token for token in tokens if token not in STOPWORDS]

    @staticmethod
    def ngrams(terms: Iterable[str]) -> list[str]:
        """Character trigrams of each term, with its edges marked: "vpn" → "<vp", "vpn", "pn>"."""
        grams: list[str] = []
        for term in terms:
            padded = f"<{term}>"
            if len(padded) <= NGRAM:
                grams.append(padded)
            else:
                grams.extend(padded[i : i + NGRAM] for i in range(len(padded) - NGRAM + 1))
        return grams


# How a question that leans on the one before it starts, or what it points back with.
FOLLOW_UP_OPENINGS = (
    "and",
    "also",
    "what about",
    "how about",
    "what if",
    "same for",
    "but",
    "then",
    "et",
    "aussi",
    "et pour",
    "et si",
    "mais",
    "pareil",
    "und",
    "auch",
    "und was",
    "was ist mit",
    "und wenn",
    "aber",
)
FOLLOW_UP_POINTERS = {
    "it",
    "its",
    "that",
    "this",
    "these",
    "those",
    "them",
    "they",
    "there",
    "one",
    "same",
    "ca",
    "cela",
    "celui",
    "celle",
    "ceux",
    "y",
    "en",
    "meme",
    "das",
    "dies",
    "diese",
    "dafur",
    "dazu",
    "dort",
    "dabei",
    "damit",
    "ihn",
    "sie",
    "selbe",
}


def is_follow_up(text: str) -> bool:
    """Whether a question seems to need the one before it: "And for staging?", "How long does it take?"."""
    tokens = words(text)
    if not tokens:
        return False
    opening = " ".join(tokens[:3])
    if any(opening == start or opening.startswith(start + " ") for start in FOLLOW_UP_OPENINGS):
        return True
    return any(token in FOLLOW_UP_POINTERS for token in tokens)


def load_synonym_groups(
    path: str | os.PathLike[str] = SYNONYMS_FILE, lexicon: str | os.PathLike[str] | None = LEXICON_FILE
) -> list[list[str]]:
    """The synonym list's groups, then the lexicon's lines as groups: the English words first, as one phrase."""
    groups: list[list[str]] = json.loads(Path(path).read_text(encoding="utf-8"))["groups"]
    if lexicon is not None:
        for line in json.loads(Path(lexicon).read_text(encoding="utf-8"))["words"]:
            english = line["en"]
            groups.append([" ".join(english), *english, *line.get("fr", []), *line.get("de", [])])
    return groups


@lru_cache(maxsize=1)
def default_analyzer() -> Analyzer:
    """One per process: reading and stemming the synonym list takes a moment."""
    return Analyzer()
