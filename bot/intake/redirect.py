"""Emergencies 12345 must not keep: crime in progress (110), fire (119), injury or sudden illness
(120), a traffic accident scene (122).

Rules, not the model: a missed emergency or a false alarm is too costly to leave to a
classifier trained on a few hundred examples. An emergency word counts only when nothing in
the text says it is over, hypothetical, a question or a complaint about how it was handled.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# In priority order: a burning car is 119, a crash with injured people is 122.
_EMERGENCIES: list[tuple[str, re.Pattern[str]]] = [
    ("119", re.compile(r"着火|起火|失火|火灾|火警|冒烟|浓烟|烧起来|烧着了|着了火|火苗|火势|爆炸|爆燃|燃起来|烧了起来|火很大|大火")),
    ("122", re.compile(r"车祸|撞车|追尾|相撞|被车撞|车撞了|撞人|撞到人|撞倒|翻车|交通事故|撞上了|撞了")),
    ("110", re.compile(r"打架|斗殴|打起来|打人|砍人|拿着?刀|持刀|动刀|抢劫|抢东西|抢包|抢钱|小偷|偷东西|在偷|"
                       r"入室|撬门|撬锁|绑架|劫持|杀人|要杀|砸门|砸东西|耍流氓|猥亵|家暴|群殴|行凶|拐孩子|拐卖|"
                       r"正在被打|闯进|砸车")),
    ("120", re.compile(r"晕倒|昏倒|昏迷|不省人事|没有?呼吸|没气了|没意识|抽搐|抽风|心脏病|心梗|脑梗|中风|大出血|"
                       r"流了很多血|流血不止|血流不止|骨折|喘不上气|上不来气|吐血|割腕|跳楼|自杀|轻生|中毒|触电|溺水|"
                       r"掉水里|休克|受伤了|受了伤|摔伤|摔倒了|摔了|急救|救护车|叫120|不行了|倒地|昏过去|晕过去|难产")),
]
# Over, habitual, hypothetical, asked about, or about how the emergency services behaved.
_NOT_NOW = re.compile(
    r"昨天|前天|昨晚|上周|上个?星期|上个?礼拜|上个?月|去年|前年|之前|以前|那天|上次|曾经|前几天|几天前|前段时间|"
    r"经常|总是|老是|每次|多次|好几次|常常|时不时|动不动|"
    r"怎么|如何|哪里|哪儿|能不能|可不可以|是否|咨询|请问|吗[？?]?$|呢[？?]?$|"
    r"态度|不出警|出警|不立案|立案|不作为|没人管|投诉|半天才|来得慢|收费|报销|派出所|民警|警察|"
    r"建议|希望|应该|隐患|容易|安装|加装|防止|预防|演练|灭火器|消防通道|飞线|堆放|堆满|检查|"
    r"举报|电梯|困在|燃气味|煤气味|天然气味|闻到|异味|赔偿|理赔|保险|定损|医药费|维权"
)
_NOW = re.compile(r"现在|正在|刚刚|刚才|马上|快来|赶紧|救命|快点|来人|还在|当前|此刻|眼下|赶快|快救|快叫")


@dataclass(frozen=True)
class Redirect:
    """An emergency number the caller must be told to call at once."""

    number: str
    """110 | 119 | 120 | 122"""
    start: int
    """offset of the word that decided it"""
    end: int
    """offset one past that word"""


def find_redirect(text: str) -> Redirect | None:
    """The emergency number for an emergency happening now, or None."""
    hits = [(n, m) for n, pattern in _EMERGENCIES if (m := pattern.search(text))]
    if not hits:
        return None
    if _NOT_NOW.search(text) and not _NOW.search(text):
        return None
    number, m = hits[0]
    return Redirect(number, m.start(), m.end())
