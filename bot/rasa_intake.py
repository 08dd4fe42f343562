"""The intake classifier as a Rasa NLU graph component.

It runs after a light conversational classifier: when that one says the message describes a
problem, the intake classifier decides which kind (consultation, help, complaint, report,
suggestion, or an emergency to redirect) and adds the phone, name and time entities its rules find.
Places are not entities here: the actions resolve them with the gazetteer, whose district and
street are what the record needs, not the span boundaries."""

from __future__ import annotations

import re
from datetime import datetime
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
from bot.intake.extractor import BEIJING, Extractor
from bot.intake.ngram import fast_predict
from bot.intake.phone import find_phones
from bot.intake.redirect import find_redirect
from bot.intake.text import clean, clearly_foreign
from bot.intake.timeparse import parse_time

PROBLEM_INTENTS = ("consultation", "help", "complaint", "report", "suggestion", "emergency")
FOREIGN = "foreign_language"
# Evidence words of the taxonomy that also just name where something is.
_PLACE_WORDS = frozenset({"公司", "单位", "小区", "社区", "学校", "医院", "商场", "超市", "市场", "饭馆", "工地", "村"})
# What may surround a phone number in a message that only gives the number: 电话是…, 座机（010）…吧.
_CONTACT_WORDS = re.compile(r"[\s，。,.!！?？~：:、/()（）-]|联系|方式|电话|手机|座机|固话|号码|号|是|我的|我|的|"
                            r"打|就|这个|吧|啊|呀|哦|嗯")
# A thumbs-up or OK sign alone answers yes (to "对吗？").
_YES_SIGNS = re.compile(r"[👍👌✅🆗✔☑]+[\ufe0f\U0001f3fb-\U0001f3ff]*[!！。.~～]*")
# Words that say something is wrong: a short message with one is a problem, not just a place.
_TROUBLE = re.compile(r"坏|塌|漏|堵|吵|臭|脏|乱|堆|占|泡|砸|偷|欠|拖|停|断|没[有人水电气法]|不[能让给热亮通行来管]|"
                      r"危险|太|又|一直|天天|老是|总是|半夜|投诉|举报")


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

    @classmethod
    def load(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> BalancedLogisticRegression:
        component: BalancedLogisticRegression = super().load(config, model_storage, resource, execution_context,
                                                             **kwargs)
        if hasattr(component.clf, "coef_"):  # absent when nothing was trained
            fast_predict(component.clf)
        return component


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
        _validate_action_responses_with_one_validator()
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
            cleaned = clean(text)
        except IntakeError:  # only signs or emoji ("。。。" read as an emergency at 0.98): ask again
            if _YES_SIGNS.fullmatch(text.strip()):
                message.set(INTENT, {"name": "affirm", "confidence": 1.0}, add_to_output=True)
                message.set(INTENT_RANKING_KEY, [message.get(INTENT)], add_to_output=True)
            else:
                _unsure(message)
            return
        ranking: list[dict[str, Any]] = list(message.get(INTENT_RANKING_KEY) or [])
        first = message.get(INTENT) or {}
        top = first.get("name")
        named_problem = self._names_a_problem(cleaned)  # words of a subcategory: 停电, 门禁 …
        if top in ("inform", "correct") and ((named_problem and len(text) >= 15) or
                                             (_TROUBLE.search(text) and len(text) >= 25)):
            top = "help"  # a whole description that also gives the place and phone; the kind comes below
        elif (top in PROBLEM_INTENTS[:-1] and not named_problem and len(text) <= 25 and usable_address(text)
              and not _TROUBLE.search(text)):
            top = "inform"  # 牡丹园北里东门那个饭馆: where, not what
        intent = None
        if _only_a_number(cleaned):
            # A number alone is no language and no problem: the citizen answers the phone question.
            intent = {"name": "inform", "confidence": 1.0}
        elif not any(c.isalpha() for c in cleaned):  # "2024": digits and signs say nothing to classify
            _unsure(message)
            return
        elif clearly_foreign(cleaned):
            intent = {"name": FOREIGN, "confidence": 1.0}
        elif top in PROBLEM_INTENTS or find_redirect(cleaned):
            # Only what may be a problem or an emergency pays for the classifier.
            record = self.extractor.extract(cleaned)
            if record.redirect and (top in PROBLEM_INTENTS or "redirect" in record.evidence):
                # The redirect head alone is trusted only on what reads as a problem: on 谢谢师傅 it
                # is out of its training data. Emergency words (evidence) count in any message.
                intent = {"name": "emergency", "confidence": record.confidence.get("urgency", 1.0)}
            elif top in PROBLEM_INTENTS:
                # How sure the first classifier is that this is a problem at all (or of its own
                # label, when relabelled above); the kind is ours.
                problem = sum(r["confidence"] for r in ranking if r["name"] in PROBLEM_INTENTS)
                sure = first.get("confidence", 0.0) if first.get("name") not in PROBLEM_INTENTS else problem
                intent = {"name": record.type, "confidence": max(sure, record.confidence.get("category", 0.0))}
        if intent is None and top != first.get("name"):  # relabelled: as sure as the first classifier was
            intent = {"name": top, "confidence": first.get("confidence", 0.0)}
        if intent:
            message.set(INTENT, intent, add_to_output=True)
            replaced = {intent["name"], first.get("name")}  # a relabelled message is not also its old label
            rest = [r for r in ranking if r["name"] not in replaced and r["name"] not in PROBLEM_INTENTS]
            message.set(INTENT_RANKING_KEY, [intent, *rest], add_to_output=True)
        message.set(ENTITIES, [*(message.get(ENTITIES) or []), *self.add_extractor_name(_entities(text))],
                    add_to_output=True)

    def _names_a_problem(self, text: str) -> bool:
        return any(w in text and w not in _PLACE_WORDS
                   for sub in self.extractor.taxonomy.subcategories.values() for w in sub.words)


def _unsure(message: Message) -> None:
    """No confidence in any intent, so that the FallbackClassifier asks the citizen again."""
    intent = {**(message.get(INTENT) or {}), "confidence": 0.0}
    message.set(INTENT, intent, add_to_output=True)
    message.set(INTENT_RANKING_KEY, [intent], add_to_output=True)


def _only_a_number(text: str) -> bool:
    """电话是13146829057, 13146829057, 手机号 幺三八…, or a mistyped 1391111333: a number answering the
    phone question and nothing else said (the form then checks the number)."""
    phones = find_phones(text)
    rest = list(text)
    for phone in phones:
        rest[phone.start : phone.end] = [""] * (phone.end - phone.start)
    left = _CONTACT_WORDS.sub("", "".join(rest))
    return re.fullmatch(r"[0-9０-９]*" if phones else r"[0-9０-９]{5,}", left) is not None


def _entities(text: str) -> list[dict[str, Any]]:
    """Phone, time and name as the intake rules find them, with offsets in the message as sent."""
    found: list[dict[str, Any]] = []
    phones = find_phones(text)
    phone = next((p for p in phones if p.kind == "mobile"), phones[0] if phones else None)
    if phone:
        found.append({"entity": "phone", "start": phone.start, "end": phone.end, "value": phone.digits})
    when = parse_time(text, datetime.now(BEIJING))
    if when:
        found.append({"entity": "time", "start": when.start, "end": when.end, "value": text[when.start : when.end]})
    name = find_name(text)
    if name:
        found.append({"entity": "name", "start": name[1], "end": name[2], "value": name[0]})
    return found


def _validate_action_responses_with_one_validator() -> None:
    """Rasa 3.6 checks every action-server response with jsonschema.validate(), which validates
    the schema itself on every call: two thirds of the Rasa server's CPU per turn (py-spy, 20
    conversations). The same check, with the validator built once."""
    from jsonschema import ValidationError
    from jsonschema.validators import validator_for
    from rasa.core.actions.action import RemoteAction

    if getattr(RemoteAction._validate_action_result, "_one_validator", False):
        return
    spec = RemoteAction.action_response_format_spec()
    validator = validator_for(spec)(spec)

    def validate(self: RemoteAction, result: dict[str, Any]) -> bool:
        try:
            validator.validate(result)
        except ValidationError as e:
            e.message += ". Failed to validate Action server response from API."
            raise
        return True

    validate._one_validator = True  # type: ignore[attr-defined]
    RemoteAction._validate_action_result = validate
