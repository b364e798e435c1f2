"""Too fast and bursts: small inputs written out, checked against counts done by hand."""

from __future__ import annotations

import random

import pytest

from app.analysis.quality import bursts, too_fast


def test_too_fast_flags_under_a_third_of_the_median():
    durations = [300.0] * 19 + [90.0, 110.0, None]  # median of the 21 timed ones is 300
    check = too_fast(durations)
    assert check.median_seconds == 300 and check.threshold_seconds == 100
    assert check.too_fast == {19}  # 90 s is under 100 s; 110 s is not; None is never flagged


def test_too_fast_needs_enough_timed_responses():
    assert too_fast([300.0] * 18 + [1.0]).too_fast == frozenset()
    assert too_fast([None] * 50).median_seconds is None


def test_too_fast_refuses_bad_input():
    with pytest.raises(ValueError):
        too_fast([-1.0] * 30)
    with pytest.raises(ValueError):
        too_fast([1.0] * 30, share=1.5)


def test_a_burst_is_five_from_one_network_within_ten_minutes():
    networks = ["a"] * 5 + ["b"] * 5 + ["c"] * 6 + [None] * 5
    times = ([0, 60, 120, 180, 240] +          # a: 5 in 4 minutes → burst
             [0, 200, 400, 600, 800] +         # b: spread over 13 minutes, never 5 within 10
             [0, 10, 20, 30, 2000, 4000] +     # c: only 4 close together → no burst
             [0, 1, 2, 3, 4])                  # no network: never flagged
    assert bursts(networks, times) == set(range(5))


def test_a_burst_inside_a_longer_stream_flags_only_the_burst():
    times = [0, 1000, 2000, 2010, 2020, 2030, 2040, 5000]
    assert bursts(["n"] * len(times), times) == {2, 3, 4, 5, 6}


def test_bursts_match_a_brute_force_count():
    rng = random.Random(7)
    networks = [rng.choice("abcd") for _ in range(300)]
    times = [rng.uniform(0, 20000) for _ in range(300)]
    expected = set()
    for i, (n, t) in enumerate(zip(networks, times)):
        # i is in a burst if some 600-second window containing it holds ≥ 5 of its network.
        same = sorted(u for m, u in zip(networks, times) if m == n)
        for start in same:
            if start <= t <= start + 600 and sum(start <= u <= start + 600 for u in same) >= 5:
                expected.add(i)
                break
    assert bursts(networks, times) == expected
