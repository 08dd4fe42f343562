"""Rasa custom actions: read slots, call bot.dialogue / intake / knowledge / storage, return events.

Served by `rasa run actions --actions bot.actions` (started by `hotline serve`)."""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActiveLoop, ConversationPaused, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot import dialogue
from bot.dialogue import DECLINED, Draft
from bot.intake.errors import IntakeError
from bot.intake.extractor import Extractor, Message
from bot.knowledge import load_knowledge
from bot.record import ComplaintRecord, Dispatch
from bot.storage import load_storage

log = logging.getLogger(__name__)
FORM_SLOTS = ("place", "address", "phone", "confirmed")
_CHANNELS = {"wechat": "wechat", "recording": "phone", "cmdline": "cli"}
_REDIRECT_TEXT = {
    "110": "您说的情况需要警察马上处置，请立即挂断并拨打110报警！如有危险请先确保自身安全。",
    "119": "这是火警或燃气险情，请立即拨打119！先撤离到安全地方，不要开关电器、不要用明火。",
    "120": "有人受伤或发病需要急救，请立即拨打120急救电话！",
    "122": "交通事故现场请立即拨打122交通事故报警电话，有人受伤同时拨打120，注意开启警示灯、人员撤到安全处。",
}


@lru_cache(maxsize=1)
def extractor() -> Extractor:
    return Extractor.load()


def _channel(tracker: Tracker) -> str:
    return _CHANNELS.get(tracker.get_latest_input_channel() or "", "web")


def _message_id(tracker: Tracker) -> str:
    """The id Rasa gave the latest user message: the same turn always yields the same record id."""
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            return f"{event.get('message_id') or event.get('timestamp')}"
    return str(tracker.sender_id)


def _user_texts(tracker: Tracker) -> list[str]:
    return [str(e.get("text")) for e in tracker.events if e.get("event") == "user" and e.get("text")]


def _save(record: ComplaintRecord, status: str, tracker: Tracker) -> str:
    stored = load_storage().save(record, status, conversation_id=tracker.sender_id)
    log.info("record %s stored: status=%s action=%s", stored.ticket, status, record.dispatch.action)
    return stored.ticket


def _form_slots(draft: Draft) -> list[EventType]:
    """Slots the form does not need to ask for, because the description already gave them."""
    given = {"place": draft.place, "address": draft.address, "phone": draft.phone}
    return [SlotSet("draft", draft.to_slot()), *[SlotSet(k, v) for k, v in given.items() if v]]


class ActionStartProblem(Action):
    """A demand was described: restate it and let the form ask for the rest."""

    def name(self) -> str:
        return "action_start_problem"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        text = tracker.latest_message.get("text") or ""
        try:
            draft = dialogue.start(extractor(), text)
        except IntakeError as e:
            dispatcher.utter_message(text=f"抱歉，这条消息我没法处理（{e}），请换个说法再说一次。")
            return []
        draft.source = _message_id(tracker)
        previous = Draft.from_slot(tracker.get_slot("draft"))
        if previous:
            dialogue.inherit_place(draft, previous)
        message = dialogue.restate(draft)
        if draft.pending:
            message += f"您一共说了{len(draft.pending) + 1}件事，我们一件一件登记，先登记这一件。"
        dispatcher.utter_message(text=message)
        return [*_form_slots(draft), SlotSet("has_pending", bool(draft.pending))]


class _AskAction(Action):
    """The form's question for one slot, worded with what the draft already holds."""

    slot = ""

    def name(self) -> str:
        return f"action_ask_{self.slot}"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        dispatcher.utter_message(text=dialogue.question(self.slot, Draft.from_slot(tracker.get_slot("draft"))))
        return []


class ActionAskPlace(_AskAction):
    slot = "place"


class ActionAskAddress(_AskAction):
    slot = "address"


class ActionAskPhone(_AskAction):
    slot = "phone"


class ActionAskConfirmed(_AskAction):
    slot = "confirmed"


class ValidateComplaintForm(FormValidationAction):
    """Each answer is parsed by bot.dialogue; an answer that is not one is asked again with a hint."""

    def name(self) -> str:
        return "validate_complaint_form"

    def _draft(self, tracker: Tracker) -> Draft:
        draft = Draft.from_slot(tracker.get_slot("draft"))
        if draft is None:  # the form was started without a description
            draft = Draft(text="", type="help", subcategory=None, urgency=3)
        return draft

    def _new_topic(self, draft: Draft, text: str, intent: str, dispatcher: CollectingDispatcher) -> bool:
        """A further problem told mid-form is kept for later, not mistaken for an answer."""
        if intent not in ("help", "complaint", "report", "suggestion") or len(text) < 8:
            return False
        record = extractor().extract(text)
        if record.subcategory == draft.subcategory or record.confidence.get("category", 0) < 0.5:
            return False
        draft.pending.append(record.text)
        dispatcher.utter_message(text="这个问题我记下了，等当前这件登记完接着为您登记。")
        return True

    def validate_place(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                       domain: DomainDict) -> dict[str, Any]:
        if value is None:
            return {"place": None}
        draft, text = self._draft(tracker), str(value)
        if text == draft.place:  # given with the description
            return {"place": text}
        intent = tracker.latest_message.get("intent", {}).get("name", "")
        if self._new_topic(draft, text, intent, dispatcher):
            return {"place": None, "draft": draft.to_slot(), "has_pending": True}
        dialogue.apply_place(extractor().gazetteer, draft, text)
        if not draft.place and draft.district:
            dispatcher.utter_message(text=f"好的，{draft.district}。")
        elif not draft.place:
            dispatcher.utter_message(text="抱歉，这个地方我没找到。")
        return {"place": draft.place, "draft": draft.to_slot(), "address": draft.address}

    def validate_address(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                         domain: DomainDict) -> dict[str, Any]:
        if value is None:
            return {"address": None}
        draft, text = self._draft(tracker), str(value)
        if text == draft.address:  # given with the description
            return {"address": text}
        intent = tracker.latest_message.get("intent", {}).get("name", "")
        if self._new_topic(draft, text, intent, dispatcher):
            return {"address": None, "draft": draft.to_slot(), "has_pending": True}
        address = dialogue.usable_address(text)
        if address is None:
            dispatcher.utter_message(text="这个地址工作人员可能找不到，麻烦说得具体一点。")
            return {"address": None}
        slots: dict[str, Any] = {"address": address}
        if dialogue.apply_place(extractor().gazetteer, draft, text):
            slots["place"] = draft.place
        draft.address = address
        phones = dialogue.apply_phone(draft, text)
        if phones == "ok":
            slots["phone"] = draft.phone
        slots["draft"] = draft.to_slot()
        return slots

    def validate_phone(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                       domain: DomainDict) -> dict[str, Any]:
        if value is None:
            return {"phone": None}
        draft, text = self._draft(tracker), str(value)
        outcome = dialogue.apply_phone(draft, text)
        if outcome == "ok":
            return {"phone": draft.phone, "draft": draft.to_slot()}
        if outcome == "declined" and (draft.type == "report" or draft.declines >= 2):
            if draft.type == "report":
                dispatcher.utter_message(text="好的，举报人信息我们严格保密，不留电话也可以受理。")
            else:
                dispatcher.utter_message(text="好的，不留电话也可以受理，但办理结果可能无法回访您。")
            draft.phone = DECLINED
            return {"phone": DECLINED, "draft": draft.to_slot()}
        if outcome == "declined":
            dispatcher.utter_message(text="电话只用于承办单位联系您和回访，不会公开。")
        else:
            dispatcher.utter_message(text="这个号码好像不完整，手机是11位，座机请带区号。")
        return {"phone": None, "draft": draft.to_slot()}

    def validate_confirmed(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                           domain: DomainDict) -> dict[str, Any]:
        if value is None:
            return {"confirmed": None}
        draft, text = self._draft(tracker), str(value)
        intent = tracker.latest_message.get("intent", {}).get("name", "")
        changed = dialogue.apply_correction(extractor().gazetteer, draft, text)
        if changed:
            dispatcher.utter_message(text="好的，已经改过来了。")
            return {"confirmed": None, "draft": draft.to_slot(), "place": draft.place, "address": draft.address,
                    "phone": draft.phone}
        if intent == "affirm":
            return {"confirmed": True}
        dispatcher.utter_message(text="请直接告诉我哪里不对，比如“不是朝阳，是海淀”或者新的电话号码。")
        return {"confirmed": None}


class ActionFileRecord(Action):
    """The citizen confirmed: store the record, tell the ticket number and the deadline."""

    def name(self) -> str:
        return "action_file_record"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        draft = Draft.from_slot(tracker.get_slot("draft"))
        if draft is None:
            return []
        ex = extractor()
        record = dialogue.build_record(ex, draft, tracker.sender_id, _channel(tracker))
        ticket = _save(record, "handoff" if record.dispatch.action == "handoff" else "queued", tracker)
        tax = ex.taxonomy
        deadline = record.deadline[:16].replace("T", " ")
        dispatcher.utter_message(text=f"已为您登记，工单号{ticket}。这是{tax.urgency_names[record.urgency]}件，"
                                      f"承办单位会在{deadline}前处理并回复您。")
        events: list[EventType] = [SlotSet(s, None) for s in FORM_SLOTS]  # the next problem starts empty
        if draft.pending:
            nxt = dialogue.start(ex, draft.pending[0])
            nxt.source = f"{draft.source}+1"
            nxt.pending = draft.pending[1:] + nxt.pending
            dialogue.inherit_place(nxt, draft)
            dispatcher.utter_message(text="接下来登记您说的另一件事。" + dialogue.restate(nxt))
            return [*events, *_form_slots(nxt), SlotSet("has_pending", True)]
        dispatcher.utter_message(text="请问还有其他需要反映的吗？")
        return [*events, SlotSet("draft", None), SlotSet("has_pending", False)]


class ActionAnswerQuestion(Action):
    """A consultation: answer from the knowledge base, or file it for an agent to answer."""

    def name(self) -> str:
        return "action_answer_question"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        text = tracker.latest_message.get("text") or ""
        in_form = tracker.active_loop_name == "complaint_form"
        found = load_knowledge().answer(text)
        try:
            record = extractor().extract(Message(text, channel=_channel(tracker), message_id=_message_id(tracker)))
        except IntakeError:
            found, record = None, None
        if found and record:
            record.dispatch = Dispatch("answer", [], f"知识库：{found.entry.id}")
            _save(record, "answered", tracker)
            dispatcher.utter_message(text=found.entry.answer)
            if in_form:
                return [SlotSet("faq_answered", None)]
            dispatcher.utter_message(text="请问这个回答解决您的问题了吗？")
            return [SlotSet("faq_answered", True)]
        if in_form:
            draft = Draft.from_slot(tracker.get_slot("draft"))
            if draft:
                draft.asides.append(text)
            dispatcher.utter_message(text="这个问题我记下了，登记完成后由工作人员为您解答。我们先接着登记。")
            return [SlotSet("draft", draft.to_slot() if draft else None), SlotSet("faq_answered", None)]
        if record:
            record.needs_review = True
            record.dispatch = Dispatch("handoff", [], "咨询：知识库无答案，转人工答复")
            _save(record, "handoff", tracker)
        dispatcher.utter_message(text="这个问题需要工作人员为您解答，正在为您转接人工客服，您的问题已经记录好了，请稍候。")
        return [SlotSet("faq_answered", False), ConversationPaused()]


class ActionRedirect(Action):
    """An emergency 12345 must not keep: the number to call at once, and a record of the call."""

    def name(self) -> str:
        return "action_redirect"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        text = tracker.latest_message.get("text") or ""
        record = extractor().extract(Message(text, channel=_channel(tracker), message_id=_message_id(tracker)))
        number = record.redirect
        if number:
            dispatcher.utter_message(text=_REDIRECT_TEXT[number])
        else:  # the conversational classifier alone said emergency: say every number
            dispatcher.utter_message(text="如果情况紧急，请立即拨打：报警110，火警119，急救120，交通事故122。")
            record.urgency, record.needs_review = 1, True
            record.dispatch = Dispatch("handoff", [], "疑似紧急情况，人工确认")
        _save(record, "redirect" if number else "handoff", tracker)
        return [ActiveLoop(None), SlotSet("requested_slot", None), *[SlotSet(s, None) for s in FORM_SLOTS],
                SlotSet("draft", None)]


class ActionHandoff(Action):
    """A person takes over: the record so far is stored pre-filled and the bot pauses."""

    def name(self) -> str:
        return "action_handoff"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        intent = tracker.latest_message.get("intent", {}).get("name", "")
        reason = {"request_human": "市民要求转人工", "angry": "市民情绪激动，转人工安抚",
                  "deny": "咨询答复未解决问题", "foreign_language": "外语来电，转外语座席",
                  "nlu_fallback": "连续两次未能理解市民表述",
                  "goodbye": "市民中途离开，请回访补全"}.get(intent, "转人工")
        record = self._record(tracker, reason)
        if record:
            _save(record, "handoff", tracker)
        if intent == "foreign_language":
            dispatcher.utter_message(text="We are connecting you to our foreign-language service. "
                                          "正在为您转接外语座席，请稍候。")
        elif intent == "goodbye":
            dispatcher.utter_message(text="好的，您说的情况已经记录下来，工作人员会联系您补全。再见！")
        else:
            dispatcher.utter_message(text="好的，正在为您转接人工客服，您说过的情况已经帮您填好，工作人员会接着为您办理，请稍候。")
        return [ActiveLoop(None), SlotSet("requested_slot", None), ConversationPaused()]

    def _record(self, tracker: Tracker, reason: str) -> ComplaintRecord | None:
        ex = extractor()
        draft = Draft.from_slot(tracker.get_slot("draft"))
        if draft:
            return dialogue.build_record(ex, draft, tracker.sender_id, _channel(tracker), reason=reason)
        texts = _user_texts(tracker)
        if not texts:
            return None
        try:
            record = ex.extract(Message("。".join(texts)[-2000:], channel=_channel(tracker),
                                        message_id=_message_id(tracker)))
        except IntakeError:
            return None
        record.needs_review = True
        record.dispatch = Dispatch("handoff", record.dispatch.units, reason)
        return record


class ActionFallback(Action):
    """Not understood: ask again once; the second time in a row a person takes over."""

    def name(self) -> str:
        return "action_fallback"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        intents = [e.get("parse_data", {}).get("intent", {}).get("name") for e in tracker.events
                   if e.get("event") == "user"]
        if len(intents) >= 2 and intents[-2] == "nlu_fallback":
            return ActionHandoff().run(dispatcher, tracker, domain)
        dispatcher.utter_message(text="抱歉，我没太听明白。您可以说说遇到了什么问题、在什么地方，比如“望京西园三区暖气不热”。")
        return []
