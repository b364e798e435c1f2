"""Named rating scales: their levels, scores, top boxes and off-scale answers."""

from __future__ import annotations

import math

from .choices import CODE_RE, read_choices
from .errors import Code, ProblemList
from .model import Scale, ScaleLevel


def build_scale(key: str, raw, problems: ProblemList) -> Scale | None:
    where = f"scale '{key}'"
    if not isinstance(raw, dict):
        problems.add(where, Code.SCALE_LEVELS)
        return None
    levels = []
    entries = raw.get("levels")
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict) or not {"code", "label", "score"} <= entry.keys() \
                or not isinstance(entry["score"], (int, float)) or isinstance(entry["score"], bool) \
                or not math.isfinite(entry["score"]):
            problems.add(where, Code.SCALE_LEVELS)
            return None
        code = entry["code"]
        if isinstance(code, bool) or not isinstance(code, (str, int)) or not CODE_RE.fullmatch(str(code)):
            problems.add(where, Code.BAD_CODE, code=code)
            return None
        levels.append(ScaleLevel(str(code), str(entry["label"]), float(entry["score"])))
    if len(levels) < 2:
        problems.add(where, Code.SCALE_LEVELS)
        return None
    codes = [lv.code for lv in levels]
    satisfied = raw.get("satisfied")
    if not isinstance(satisfied, list) or not satisfied or any(
            isinstance(c, bool) or str(c) not in codes for c in satisfied):
        problems.add(where, Code.SCALE_SATISFIED, value=satisfied)
        return None
    off_scale_raw = raw.get("off_scale") or []
    off_scale = read_choices(off_scale_raw if isinstance(off_scale_raw, list) else [None], where, problems)
    if len(set(codes) | {c.code for c in off_scale}) != len(codes) + len(off_scale):
        problems.add(where, Code.DUPLICATE_CODE, code="/".join(codes))
    return Scale(key=key, label=str(raw.get("label", key)), levels=tuple(levels),
                 satisfied=frozenset(str(c) for c in satisfied), off_scale=off_scale)
