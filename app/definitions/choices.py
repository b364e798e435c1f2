"""Reading the answer options of an item or a scale."""

from __future__ import annotations

import re

from .errors import Code, ProblemList
from .model import Choice

#: An answer code: short, stable, safe in exports and URLs.
CODE_RE = re.compile(r"[A-Za-z0-9_-]{1,32}")


def read_choices(entries: list, where: str, problems: ProblemList,
                 allow_exclusive: bool = False) -> tuple[Choice, ...]:
    choices, seen = [], set()
    for entry in entries:
        if not isinstance(entry, dict) or "code" not in entry or not isinstance(entry.get("label"), str) \
                or not entry["label"].strip():
            problems.add(where, Code.BAD_TYPE, field="options", expected="a list of {code, label} with label text",
                         got=repr(entry))
            continue
        code = entry["code"]
        if isinstance(code, bool) or not isinstance(code, (str, int)) or not CODE_RE.fullmatch(str(code)):
            problems.add(where, Code.BAD_CODE, code=code)
            continue
        code = str(code)
        if code in seen:
            problems.add(where, Code.DUPLICATE_CODE, code=code)
        seen.add(code)
        unknown = entry.keys() - {"code", "label", "exclusive"}
        if unknown:
            problems.add(where, Code.UNKNOWN_FIELD, field=", ".join(sorted(unknown)), allowed="code, label, exclusive")
        exclusive = entry.get("exclusive", False)
        if not isinstance(exclusive, bool):
            problems.add(where, Code.BAD_TYPE, field="exclusive", expected="true or false", got=type(exclusive).__name__)
            exclusive = False
        if exclusive and not allow_exclusive:
            problems.add(where, Code.EXCLUSIVE_NOT_MULTIPLE, code=code)
            exclusive = False
        choices.append(Choice(code, entry["label"].strip(), exclusive=exclusive is True))
    return tuple(choices)
