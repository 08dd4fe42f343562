"""The intake classifier as a Rasa NLU graph component.

It runs after a light conversational classifier: when that one says the message describes a
problem, the intake classifier decides which kind (consultation, help, complaint, report,
suggestion, or an emergency to redirect) and adds address, time, name and phone entities."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.intake.errors import IntakeError
from bot.intake.extractor import Extractor

PROBLEM_INTENTS = ("consultation", "help", "complaint", "report", "suggestion", "emergency")
FOREIGN = "foreign_language"
_ENTITY_OF_EVIDENCE = {"address": "address", "occurred_at": "time", "name": "name", "phone": "phone"}


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR],
    is_trainable=False,
)
class IntakeClassifier(GraphComponent, EntityExtractorMixin):
    """Refines problem intents with the project's torch classifier and rules."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"model_dir": None}

    def __init__(self, extractor: Extractor) -> None:
        self.extractor = extractor

    @classmethod
    def create(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> IntakeClassifier:
        directory = config.get("model_dir")
        return cls(Extractor.load(Path(directory) if directory else None))

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            text = message.get(TEXT)
            if text:
                self._refine(message, str(text))
        return messages

    def _refine(self, message: Message, text: str) -> None:
        try:
            record = self.extractor.extract(text)
        except IntakeError:
            return
        ranking: list[dict[str, Any]] = list(message.get(INTENT_RANKING_KEY) or [])
        top = (message.get(INTENT) or {}).get("name")
        if record.language != "zh":
            intent = {"name": FOREIGN, "confidence": 1.0}
        elif record.redirect:
            intent = {"name": "emergency", "confidence": record.confidence.get("urgency", 1.0)}
        elif top in PROBLEM_INTENTS:
            # How sure the first classifier is that this is a problem at all; the kind is ours.
            problem = sum(r["confidence"] for r in ranking if r["name"] in PROBLEM_INTENTS) or 1.0
            intent = {"name": record.type, "confidence": min(1.0, problem)}
        else:
            intent = None
        if intent:
            message.set(INTENT, intent, add_to_output=True)
            rest = [r for r in ranking if r["name"] != intent["name"] and r["name"] not in PROBLEM_INTENTS]
            message.set(INTENT_RANKING_KEY, [intent, *rest], add_to_output=True)
        found = []
        for key, entity in _ENTITY_OF_EVIDENCE.items():
            for span in record.evidence.get(key, [])[:1]:
                # Offsets are in the cleaned text; Rasa wants them in the message as sent.
                start = span.start if text[span.start : span.end] == span.text else text.find(span.text)
                if start < 0:
                    continue
                value = record.contact.phone if key == "phone" else span.text
                found.append({"entity": entity, "start": start, "end": start + len(span.text), "value": value})
        message.set(ENTITIES, [*(message.get(ENTITIES) or []), *self.add_extractor_name(found)], add_to_output=True)
