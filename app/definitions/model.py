"""A questionnaire definition as immutable dataclasses.

A definition is self-contained: its scales are copied into it, so a stored survey
version means the same thing even after ``surveys/scales.yaml`` changes.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from functools import cached_property


@dataclass(frozen=True)
class Choice:
    """One answer a resident can pick: a stable code and the words they see."""

    code: str
    label: str
    #: For multiple choice: an answer such as 都没听说过 that cannot be ticked with others.
    exclusive: bool = False

    def to_dict(self) -> dict:
        return {"code": self.code, "label": self.label} | ({"exclusive": True} if self.exclusive else {})


@dataclass(frozen=True)
class ScaleLevel:
    code: str
    label: str
    #: Points on the 0–100 satisfaction index (e.g. 100/80/60/40/20).
    score: float


@dataclass(frozen=True)
class Scale:
    """A named rating scale, e.g. five-level satisfaction.

    ``levels`` run from the best to the worst. ``off_scale`` answers (不了解/说不清) are
    real answers, stored and counted, but statistics keep them apart from the scale.
    """

    key: str
    label: str
    levels: tuple[ScaleLevel, ...]
    #: Codes of the levels that count as satisfied (the "top boxes").
    satisfied: frozenset[str]
    off_scale: tuple[Choice, ...] = ()

    @property
    def choices(self) -> tuple[Choice, ...]:
        return tuple(Choice(lv.code, lv.label) for lv in self.levels) + self.off_scale

    def to_dict(self) -> dict:
        return {
            "key": self.key,
            "label": self.label,
            "levels": [{"code": lv.code, "label": lv.label, "score": lv.score} for lv in self.levels],
            "satisfied": [lv.code for lv in self.levels if lv.code in self.satisfied],
            "off_scale": [c.to_dict() for c in self.off_scale],
        }


@dataclass(frozen=True)
class ShowIf:
    """Show an item only when an earlier item's answer is one of ``values``."""

    item: str
    values: frozenset[str]

    def holds(self, answer: str | list[str] | None) -> bool:
        if answer is None:
            return False
        if isinstance(answer, (list, tuple)):
            return any(a in self.values for a in answer)
        return answer in self.values

    def to_dict(self) -> dict:
        values = sorted(self.values)
        if len(values) == 1:
            return {"item": self.item, "equals": values[0]}
        return {"item": self.item, "in": values}


@dataclass(frozen=True)
class Item:
    key: str
    type: str
    text: str
    tags: tuple[str, ...]
    required: bool = False
    text_en: str | None = None
    help: str | None = None
    show_if: ShowIf | None = None
    #: single / multiple
    options: tuple[Choice, ...] = ()
    min_choices: int | None = None
    max_choices: int | None = None
    #: likert
    scale: Scale | None = None
    #: number
    min: float | None = None
    max: float | None = None
    integer: bool = False
    unit: str | None = None
    #: text
    max_length: int | None = None

    @property
    def choices(self) -> tuple[Choice, ...]:
        """Every answer code the item accepts, in the order shown."""
        if self.scale is not None:
            return self.scale.choices
        return self.options

    @cached_property
    def codes(self) -> frozenset[str]:
        return frozenset(c.code for c in self.choices)

    def to_dict(self) -> dict:
        d: dict = {"key": self.key, "type": self.type, "text": self.text, "tags": list(self.tags)}
        if self.required:
            d["required"] = True
        for name in ("text_en", "help", "min_choices", "max_choices", "min", "max", "unit", "max_length"):
            value = getattr(self, name)
            if value is not None:
                d[name] = value
        if self.integer:
            d["integer"] = True
        if self.show_if:
            d["show_if"] = self.show_if.to_dict()
        if self.options:
            d["options"] = [c.to_dict() for c in self.options]
        if self.scale:
            d["scale"] = self.scale.to_dict()
        return d


@dataclass(frozen=True)
class Section:
    title: str | None
    items: tuple[Item, ...]


@dataclass(frozen=True)
class SurveyDefinition:
    id: str
    title: str
    sections: tuple[Section, ...]
    intro: str | None = None
    title_en: str | None = None
    #: Words on the thank-you page.
    outro: str | None = None
    source: str | None = field(default=None, compare=False)

    @cached_property
    def items(self) -> tuple[Item, ...]:
        return tuple(item for section in self.sections for item in section.items)

    @cached_property
    def items_by_key(self) -> dict[str, Item]:
        return {item.key: item for item in self.items}

    def to_dict(self) -> dict:
        """The canonical form stored with a survey version (scales copied in)."""
        d: dict = {"id": self.id, "title": self.title}
        for name in ("title_en", "intro", "outro"):
            value = getattr(self, name)
            if value is not None:
                d[name] = value
        d["sections"] = [
            ({"title": s.title} if s.title else {}) | {"items": [i.to_dict() for i in s.items]}
            for s in self.sections
        ]
        return d

    @cached_property
    def content_hash(self) -> str:
        """SHA-256 of the canonical JSON: equal definitions, equal hash."""
        canonical = json.dumps(self.to_dict(), ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()
