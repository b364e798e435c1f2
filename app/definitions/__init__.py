"""Questionnaire definitions: the files in surveys/, read, checked and turned into forms."""

from .errors import DefinitionError, Problem
from .loader import definition_from_dict, load_all, load_survey_file, stored_definition
from .model import Choice, Item, Scale, ScaleLevel, Section, ShowIf, SurveyDefinition

__all__ = [
    "Choice", "DefinitionError", "Item", "Problem", "Scale", "ScaleLevel", "Section", "ShowIf",
    "SurveyDefinition", "definition_from_dict", "load_all", "load_survey_file", "stored_definition",
]
