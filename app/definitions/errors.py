"""Coded, templated messages for a questionnaire definition that is wrong.

Each message names what is wrong and how to fix it; the loader adds the file and the
item. Modelled on pyxform's ``errors.py``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Code(enum.Enum):
    YAML = "the file is not valid YAML: {detail}"
    NOT_A_MAPPING = "the file must hold a mapping with id, title and sections"
    MISSING = "'{field}' is required"
    UNKNOWN_FIELD = "unknown field '{field}'; allowed: {allowed}"
    BAD_TYPE = "'{field}' must be {expected}, not {got}"
    BAD_ID = "'{field}' must be lowercase letters, digits, '-' or '_' and start with a letter (got {value!r})"
    RESERVED_KEY = "the key '{key}' is a name the form itself uses; choose another"
    DUPLICATE_KEY = "the key '{key}' is used twice; every item needs its own key"
    UNKNOWN_ITEM_TYPE = "unknown item type '{type}'; use one of: {allowed}"
    UNKNOWN_SCALE = "unknown scale '{scale}'; define it in scales.yaml beside this file or under 'scales'. Known: {known}"
    DUPLICATE_SURVEY_ID = "the survey id '{id}' is already used by {other}; every file needs its own id"
    NO_OPTIONS = "a {type} item needs at least two options"
    DUPLICATE_CODE = "the option code '{code}' is used twice"
    BAD_CODE = "option code {code!r} must be short text of letters, digits, '-' or '_'"
    NO_TAGS = "every item must name the indicators it feeds under 'tags' (e.g. kunming:II-14.4)"
    BAD_TAG = "tag {tag!r} must look like 'scheme:indicator' (e.g. kunming:II-14.4, respondent:age_band)"
    SHOW_IF_UNKNOWN = "show_if refers to '{target}', which is not an earlier item of this survey"
    SHOW_IF_NOT_CHOICE = "show_if refers to '{target}', a {type} item; it can only follow a choice or scale item"
    SHOW_IF_BAD_VALUE = "show_if value {value!r} is not an answer code of '{target}' (codes: {codes})"
    SHOW_IF_FORM = "show_if must be {{item: KEY, equals: CODE}} or {{item: KEY, in: [CODE, ...]}}"
    BAD_RANGE = "min ({min}) must not be greater than max ({max})"
    MAX_LENGTH = "max_length must be between 1 and {limit} (got {value})"
    BAD_CHOICE_LIMITS = "min_choices/max_choices must satisfy 0 <= min <= max <= number of options ({n})"
    FIELD_NOT_FOR_TYPE = "'{field}' does not apply to a {type} item"
    SCALE_LEVELS = "a scale needs at least two levels, each with code, label and score"
    SCALE_SATISFIED = "'satisfied' must list codes of the scale's levels (got {value!r})"
    NO_ITEMS = "the survey has no items"
    EXCLUSIVE_NOT_MULTIPLE = "option {code!r}: 'exclusive' only applies to options of a multiple item"


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a definition file."""

    file: str
    where: str  # "item 'q3'", "section 2", "scale 'satisfaction5'" or "" for the whole file
    code: Code
    message: str

    def __str__(self) -> str:
        where = f" {self.where}:" if self.where else ""
        return f"{self.file}:{where} {self.message}"


class DefinitionError(ValueError):
    """A definition file was rejected; ``problems`` lists every reason found."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class ProblemList:
    """Collects problems while a file is read, so one run reports all of them."""

    def __init__(self, file: str):
        self.file = file
        self.problems: list[Problem] = []

    def add(self, where: str, error: Code, /, **values) -> None:
        # Positional-only, so a template's own {code} value can be passed as code=…
        self.problems.append(Problem(self.file, where, error, error.value.format(**values)))

    def raise_if_any(self) -> None:
        if self.problems:
            raise DefinitionError(self.problems)
