"""Quality checks that need a campaign's other responses: too fast, and bursts from one network.

Pure functions over small arrays (one entry per response, never per answer). A flagged
response is kept and counted apart; nothing here drops anything.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: Fewest timed responses before "much faster than the median" means anything.
MIN_TIMED_FOR_SPEED = 20
#: "Much faster": under this share of the median completion time.
TOO_FAST_SHARE = 1 / 3
#: A burst: at least this many responses from one network ...
BURST_SIZE = 5
#: ... within this many seconds.
BURST_WINDOW_SECONDS = 600


@dataclass(frozen=True)
class SpeedCheck:
    median_seconds: float | None
    threshold_seconds: float | None
    #: Positions (into the input) of responses completed too fast.
    too_fast: frozenset[int]


def too_fast(durations_seconds: Sequence[float | None], *, share: float = TOO_FAST_SHARE,
             min_timed: int = MIN_TIMED_FOR_SPEED) -> SpeedCheck:
    """Responses completed in under ``share`` of the median time. Untimed (None) ones are never flagged.

    Below ``min_timed`` timed responses the median is too unsteady, and nothing is flagged.
    """
    if not 0 < share < 1:
        raise ValueError(f"share must be between 0 and 1, got {share}")
    timed = [(i, d) for i, d in enumerate(durations_seconds) if d is not None]
    if any(d < 0 for _, d in timed):
        raise ValueError("a duration is negative")
    if len(timed) < min_timed:
        return SpeedCheck(None, None, frozenset())
    median = float(np.median([d for _, d in timed]))
    threshold = median * share
    return SpeedCheck(median, threshold, frozenset(i for i, d in timed if d < threshold))


def bursts(networks: Sequence[str | None], times_seconds: Sequence[float], *, size: int = BURST_SIZE,
           window_seconds: float = BURST_WINDOW_SECONDS) -> frozenset[int]:
    """Positions of responses that belong to a burst: ``size`` or more responses from one
    network (hashed) within ``window_seconds``. Responses without a network are never flagged."""
    if len(networks) != len(times_seconds):
        raise ValueError("networks and times differ in length")
    if size < 2:
        raise ValueError("a burst needs at least 2 responses")
    by_network: dict[str, list[tuple[float, int]]] = defaultdict(list)
    for i, (network, t) in enumerate(zip(networks, times_seconds)):
        if network is not None:
            by_network[network].append((t, i))
    flagged: set[int] = set()
    for events in by_network.values():
        events.sort()
        start = 0
        for end in range(len(events)):
            while events[end][0] - events[start][0] > window_seconds:
                start += 1
            if end - start + 1 >= size:
                flagged.update(i for _, i in events[start:end + 1])
    return frozenset(flagged)
