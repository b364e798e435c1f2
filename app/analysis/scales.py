"""A rating scale as plain data: what the statistics need to know about it, and nothing else.

The survey definitions (surveys/scales.yaml) are read elsewhere; callers turn a scale into a
ScaleScoring with plain codes and scores, so this package never imports the definitions.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ScaleScoring:
    """The levels of a scale, their points on the 0–100 satisfaction index, the top boxes
    counted as satisfied, and the answers kept apart from the scale (不了解/说不清)."""

    #: On-scale answer codes, in the order count arrays use (scales.yaml lists best first).
    codes: tuple[str, ...]
    #: Each level's points on the 0–100 satisfaction index, in the order of ``codes``.
    scores: tuple[float, ...]
    #: Codes counted in the satisfaction rate (the top boxes).
    satisfied: frozenset[str]
    #: Codes that are answers but not on the scale, e.g. dk = 不了解/说不清.
    off_scale: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if len(self.codes) < 2:
            raise ValueError(f"a scale needs at least 2 levels, got {len(self.codes)}")
        if len(self.scores) != len(self.codes):
            raise ValueError(f"{len(self.codes)} codes but {len(self.scores)} scores")
        if len(set(self.codes) | set(self.off_scale)) != len(self.codes) + len(self.off_scale):
            raise ValueError("a code appears twice among the levels and off-scale answers")
        if not self.satisfied <= set(self.codes):
            raise ValueError(f"satisfied codes {sorted(self.satisfied - set(self.codes))} are not levels")
        if not all(0 <= s <= 100 for s in self.scores):
            raise ValueError(f"scores must lie on the 0–100 index, got {self.scores}")

    @classmethod
    def from_levels(cls, levels: Iterable[tuple[str, float]], satisfied: Iterable[str],
                    off_scale: Iterable[str] = ()) -> ScaleScoring:
        """From (code, score) pairs, e.g. [("5", 100), ("4", 80), ...] as in scales.yaml."""
        pairs = list(levels)
        return cls(codes=tuple(str(c) for c, _ in pairs), scores=tuple(float(s) for _, s in pairs),
                   satisfied=frozenset(str(c) for c in satisfied), off_scale=tuple(str(c) for c in off_scale))

    @property
    def score_array(self) -> np.ndarray:
        return np.asarray(self.scores, dtype=float)

    @property
    def satisfied_mask(self) -> np.ndarray:
        """True for each level (in ``codes`` order) that counts as satisfied."""
        return np.array([c in self.satisfied for c in self.codes])

    def score_of(self, codes: Sequence[str | None]) -> np.ndarray:
        """Per-respondent scores for answer codes (None = not answered); NaN for off-scale and
        unanswered. An unknown code is an error, not a silent gap."""
        lookup: dict[str | None, float] = dict(zip(self.codes, self.scores))
        lookup.update({c: np.nan for c in self.off_scale})
        lookup[None] = np.nan
        unknown = {c for c in codes if c not in lookup}
        if unknown:
            raise ValueError(f"codes {sorted(unknown)} are neither levels nor off-scale answers")
        return np.array([lookup[c] for c in codes], dtype=float)
