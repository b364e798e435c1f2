"""Which words residents use in their free-text answers: Chinese word segmentation (jieba) and counts.

Texts in, ranked words out; no Flask, no database. A word is what jieba's accurate mode cuts
(with its HMM for words not in the dictionary), after NFKC normalisation (full-width letters and
digits become ASCII) and lower-casing (Latin words such as WiFi count as one). A word is dropped when:

- it is a stop word (stopwords_zh.txt beside this module: function words and the words every answer
  to a community survey uses, such as 社区 and 希望);
- it has no letter in it: punctuation, digits, whitespace, emoji;
- it is a single character, unless it is in MEANINGFUL_SINGLES. Most single characters jieba leaves
  are particles or pieces of a phrase it could not join (多, 太, 把), but a few carry a resident's
  complaint on their own (水, 电, 路, 灯, 脏, 乱, 吵); those are kept.

jieba is loaded once, lazily, on first use (about a second to build its dictionary), silently, and
keeps its cache in a private directory of the system's temporary folder, never in the repository.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
import unicodedata
import warnings
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

STOP_WORDS_FILE = Path(__file__).with_name("stopwords_zh.txt")

#: Single characters that name a thing or a complaint by themselves, and so are counted.
MEANINGFUL_SINGLES = frozenset("水电气路灯车桥树草花狗猫鼠蚊虫厕房楼门窗墙梯锁网钱药病"
                               "脏乱差吵臭堵挤贵漏破旧黑暗慢难险冷热潮湿偏远少缺坏")


@dataclass(frozen=True)
class WordCount:
    word: str
    #: Times the word occurs over all the answers.
    count: int
    #: Answers that use the word at least once.
    answers: int
    #: answers / all the answers counted (0–1).
    share: float
    #: Distinct responses (residents) with an answer that uses the word: a response's several answers count once.
    responses: int


@dataclass(frozen=True)
class WordFrequencies:
    #: The answers counted (empty and blank texts included: they are answers that use no word).
    answers: int
    #: The distinct responses those answers belong to (as many as the answers when none are named).
    responses: int
    #: Words kept over all the answers (every occurrence), before ``top`` cuts the list.
    total_words: int
    #: Distinct words kept, before ``top`` cuts the list.
    distinct_words: int
    #: The most frequent words: by count, then by answers using them, then by the word itself.
    words: tuple[WordCount, ...]


@cache
def default_stop_words() -> frozenset[str]:
    """The stop words of stopwords_zh.txt (whitespace-separated; # starts a comment line)."""
    words = set()
    for line in STOP_WORDS_FILE.read_text(encoding="utf-8").splitlines():
        if not line.lstrip().startswith("#"):
            words.update(normalise(word) for word in line.split())
    return frozenset(words)


def normalise(text: str) -> str:
    return unicodedata.normalize("NFKC", text).lower()


def keeps(word: str, stop_words: frozenset[str]) -> bool:
    """Is a cut word counted? Not a stop word, has a letter, and more than one character unless meaningful."""
    if word in stop_words or not any(unicodedata.category(ch).startswith("L") for ch in word):
        return False
    return len(word) > 1 or word in MEANINGFUL_SINGLES


_lock = threading.Lock()
_tokenizer = None


def _cache_dir() -> str | None:
    """A directory only this user writes, for jieba's dictionary cache (None: build it each time).

    jieba's default, a fixed file name in the shared temporary folder, would load a cache anyone
    on the machine could have put there."""
    folder = Path(tempfile.gettempdir()) / f"minyi-jieba-{os.getuid() if hasattr(os, 'getuid') else 'user'}"
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
        info = folder.stat()
    except OSError:
        return None
    if hasattr(os, "getuid") and (info.st_uid != os.getuid() or info.st_mode & 0o077):
        return None
    return str(folder)


def tokenizer():
    """jieba's tokenizer, made and its dictionary loaded once (thread-safe), without logging."""
    global _tokenizer
    if _tokenizer is None:
        with _lock:
            if _tokenizer is None:
                with warnings.catch_warnings():
                    # jieba 0.42 (its latest release) imports pkg_resources, which newer setuptools
                    # deprecate, has regexes with invalid escapes (warned when compiled without .pyc)
                    # and leaves its model files for the garbage collector to close. Its own
                    # business, and harmless: silenced for its import only.
                    warnings.filterwarnings("ignore", message=".*pkg_resources", category=Warning)
                    warnings.filterwarnings("ignore", message="invalid escape sequence", category=Warning)
                    warnings.filterwarnings("ignore", category=ResourceWarning)
                    import jieba
                jieba.setLogLevel(logging.WARNING)  # no "Building prefix dict…" lines on stderr
                made = jieba.Tokenizer()
                folder = _cache_dir()
                if folder is None:
                    # No safe place for the cache: let jieba write it into a throwaway directory.
                    made.tmp_dir = tempfile.mkdtemp(prefix="minyi-jieba-")
                else:
                    made.tmp_dir = folder
                made.initialize()
                _tokenizer = made
    return _tokenizer


def segment(text: str) -> list[str]:
    """The words jieba cuts ``text`` into (accurate mode, HMM on), normalised; nothing dropped."""
    return [word for word in tokenizer().lcut(normalise(text)) if word.strip()]


def count_words(texts: Iterable[str], *, top: int = 30, stop_words: Iterable[str] | None = None,
                min_answers: int = 1, min_responses: int = 1, responses: Iterable[Hashable] | None = None,
                cut: Callable[[str], Sequence[str]] | None = None) -> WordFrequencies:
    """Count the words of ``texts`` (one text per answer) and rank them.

    ``top``: how many words to return (at least 1). ``stop_words``: words never counted (default:
    stopwords_zh.txt). ``responses``: the response (resident) each text belongs to, in the order of
    ``texts`` and as many (default: each text its own response); one resident's answers to several
    questions are one response. ``min_answers`` / ``min_responses``: leave out words fewer answers /
    fewer distinct responses use (a word only one resident wrote may point at that resident: it is
    the responses that tell residents apart). ``cut``: the segmenter (default: jieba, see ``segment``).
    """
    if isinstance(top, bool) or not isinstance(top, int) or top < 1:
        raise ValueError(f"top must be a whole number of at least 1, got {top!r}")
    for name, value in (("min_answers", min_answers), ("min_responses", min_responses)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a whole number of at least 1, got {value!r}")
    stop = default_stop_words() if stop_words is None else frozenset(normalise(w) for w in stop_words)
    cut = cut or segment
    texts = list(texts)
    owners = list(range(len(texts))) if responses is None else list(responses)
    if len(owners) != len(texts):
        raise ValueError(f"responses must name one response per text: {len(owners)} for {len(texts)} texts")
    occurrences: Counter[str] = Counter()
    answers_using: Counter[str] = Counter()
    users: dict[str, set[Hashable]] = {}
    for text, owner in zip(texts, owners):
        if not isinstance(text, str):
            raise TypeError(f"texts must be strings, got {type(text).__name__}")
        words = [w for w in (normalise(w) for w in cut(text)) if keeps(w, stop)]
        occurrences.update(words)
        answers_using.update(set(words))
        for word in set(words):
            users.setdefault(word, set()).add(owner)
    n_answers = len(texts)
    kept = [word for word in occurrences if answers_using[word] >= min_answers and len(users[word]) >= min_responses]
    kept.sort(key=lambda w: (-occurrences[w], -answers_using[w], w))
    return WordFrequencies(
        answers=n_answers,
        responses=len(set(owners)),
        total_words=sum(occurrences[w] for w in kept),
        distinct_words=len(kept),
        words=tuple(WordCount(w, occurrences[w], answers_using[w], answers_using[w] / n_answers, len(users[w]))
                    for w in kept[:top]))
