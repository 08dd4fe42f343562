"""The intake classifier as a Rasa NLU graph component.

It runs after a light conversational classifier: when that one says the message describes a
problem, the intake classifier decides which kind (consultation, help, complaint, report,
suggestion, or an emergency to redirect) and adds the phone, name and time entities its rules find.
Places are not entities here: the actions resolve them with the gazetteer, whose district and
street are what the record needs, not the span boundaries."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.logistic_regression_classifier import LogisticRegressionClassifier
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.dialogue import usable_address
from bot.intake.contact import find_name
from bot.intake.errors import IntakeError
from bot.intake.extractor import Extractor

PROBLEM_INTENTS = ("consultation", "help", "complaint", "report", "suggestion", "emergency")
FOREIGN = "foreign_language"
# Words that say something is wrong: a short message with one is a problem, not just a place.
_TROUBLE = re.compile(r"坏|塌|漏|堵|吵|臭|脏|乱|堆|占|泡|砸|偷|欠|拖|停|断|没[有人水电气法]|不[能让给热亮通行来管]|"
                      r"危险|太|又|一直|天天|老是|总是|半夜|投诉|举报")
_ENTITY_OF_EVIDENCE = {"occurred_at": "time", "phone": "phone"}


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class BalancedLogisticRegression(LogisticRegressionClassifier):
    """Rasa's logistic regression with its regularisation as configuration and balanced class
    weights: 3,000 problem descriptions must not drown 40 examples of 谢谢 or 没有了."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {**LogisticRegressionClassifier.get_default_config(), "C": 10.0, "class_weight": "balanced"}

    def __init__(self, config: dict[str, Any], name: str, model_storage: ModelStorage, resource: Resource) -> None:
        from sklearn.linear_model import LogisticRegression

        super().__init__(config, name, model_storage, resource)
        self.clf = LogisticRegression(solver=self.config["solver"], max_iter=self.config["max_iter"],
                                      C=self.config["C"], class_weight=self.config["class_weight"],
                                      tol=self.config["tol"], random_state=self.config["random_state"])


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
        first = message.get(INTENT) or {}
        top = first.get("name")
        named_problem = "category" in record.evidence  # words of a taxonomy subcategory: 停电, 门禁 …
        if top in ("inform", "correct") and ((named_problem and len(text) >= 15) or
                                             (_TROUBLE.search(text) and len(text) >= 25)):
            top = record.type  # a whole description that also gives the place and phone
        elif (top in PROBLEM_INTENTS[:-1] and not named_problem and len(text) <= 25 and usable_address(text)
              and not _TROUBLE.search(text)):
            top = "inform"  # 牡丹园北里东门那个饭馆: where, not what
        if record.language != "zh":
            intent = {"name": FOREIGN, "confidence": 1.0}
        elif record.redirect and (top in PROBLEM_INTENTS or "redirect" in record.evidence):
            # The redirect head alone is trusted only on what reads as a problem: on 谢谢师傅 it is
            # out of its training data. Emergency words (evidence) count in any message.
            intent = {"name": "emergency", "confidence": record.confidence.get("urgency", 1.0)}
        elif top in PROBLEM_INTENTS:
            # How sure the first classifier is that this is a problem at all (or of its own label,
            # when relabelled above); the kind is ours.
            problem = sum(r["confidence"] for r in ranking if r["name"] in PROBLEM_INTENTS)
            sure = first.get("confidence", 0.0) if first.get("name") not in PROBLEM_INTENTS else problem
            intent = {"name": record.type, "confidence": max(sure, record.confidence.get("category", 0.0))}
        elif top != first.get("name"):  # relabelled above: as sure as the first classifier was of its label
            intent = {"name": top, "confidence": first.get("confidence", 0.0)}
        else:
            intent = None
        if intent:
            message.set(INTENT, intent, add_to_output=True)
            replaced = {intent["name"], first.get("name")}  # a relabelled message is not also its old label
            rest = [r for r in ranking if r["name"] not in replaced and r["name"] not in PROBLEM_INTENTS]
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
        name = find_name(text)  # the rules only: the model's name slot guesses on short replies
        if name:
            found.append({"entity": "name", "start": name[1], "end": name[2], "value": name[0]})
        message.set(ENTITIES, [*(message.get(ENTITIES) or []), *self.add_extractor_name(found)], add_to_output=True)
