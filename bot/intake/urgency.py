"""Urgency-1 (特急) situations the taxonomy names, recognised by rule: missing one costs more
than reviewing a false alarm, and these have few ways of being said."""

from __future__ import annotations

import re

_URGENT = re.compile(
    r"(?:煤气|燃气|天然气|然气|液化气)(?:味|泄漏|漏了|漏气)|(?:煤气|燃气|天然气)[^。]{0,10}[有一]股子?味|漏气|燃气报警器|臭鸡蛋味|往外冒气|"
    r"困(?:在)?电梯|[电直扶]梯.{0,6}(?:困|关)(?:人|住|在)|电梯里被困|关(?:在)?电梯里|困电题|电梯.{0,8}(?:往下掉|往下坠|下坠|冲到顶)|"
    r"井盖.{0,4}(?:丢|没了|没有了|不见|被?偷|碎|翻)|井该.{0,4}(?:丢|被偷|没)|"
    r"(?:水管|主水管|暖气管|暖气片|管道|管子).{0,4}(?:爆|崩开|冻裂|挖破|挖断)|爆管|"
    r"返水|反水|倒灌|(?:往屋里|往家里|到家里)(?:冒|灌|返)|冒粪水|(?:粪水|污水).{0,4}(?:漫|灌|淌)(?:到|进)(?:院|屋|家|客厅|楼道|(?:家|院|屋)门口)|"
    r"(?:整栋楼|整个楼|全楼|这栋楼|整个单元|全单元|一个单元|整个小区|全小区|这一片|好几栋楼|好几个小区|全村|整个村|养老院|敬老院)"
    r"[^，。,]{0,10}(?:停水|没水(?![果泥费])|停电|没电(?![梯视话脑费车瓶])|停暖|没暖气|暖气.{0,4}(?:不热|凉|坏)|停气)|"
    r"电线.{0,6}(?:掉|断|耷拉|冒火花|打火)|漏电|线头露"
)
# Suggestions, questions and what-ifs about these are not emergencies.
_NOT_URGENT = re.compile(r"建议|希望|请问|咨询|能不能|隐患|担心|如果|万一|要是|是否|以前|去年|上个?月|上周|上个?礼拜|"
                         r"上个?星期|开春|补上了|补好了|换上了|暖气费|取暖费|[收接]到通知|通知说")


def urgent(text: str) -> re.Match[str] | None:
    """The words that make the text urgency 1 by rule, or None."""
    if _NOT_URGENT.search(text):
        return None
    return _URGENT.search(text)
