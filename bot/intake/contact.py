"""The caller's name as said: 我姓王 / 免贵姓张 / 我叫李明 / 王先生."""

from __future__ import annotations

import re

SURNAMES = ("王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛"
            "叶阎闫余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段雷钱汤尹黎易常武"
            "乔贺赖龚文庞樊兰殷施陶洪翟安颜倪严牛温芦季俞章鲁葛伍韦申尤毕聂焦向柳邢骆岳齐沿梅莫庄辛管祝左涂谷"
            "祁时舒耿牟卜路詹关苗凌费纪靳盛童欧甄项曲成游阳裴席卫查屈鲍位覃霍翁隋植甘景薄单包司柏宁柯阮桂闵"
            "欧阳解强柴华车冉房边")
_TITLE = "(?:先生|女士|小姐|阿姨|大爷|大妈|师傅|老师|大姐|大哥)"
_PATTERNS = [
    re.compile(rf"(?:免贵姓|我姓|本人姓|姓)([{SURNAMES}])(?:，|,| )?"
               rf"(?:叫\1?([\u4e00-\u9fff]{{1,2}})(?=[，,。 ]|$))?({_TITLE})?"),
    re.compile(rf"(?:我叫|我的名字是|我名字叫|本人叫)([{SURNAMES}][\u4e00-\u9fff]{{1,2}}?)(?=[，,。！ ]|电话|手机|$)"),
    re.compile(rf"(?:我是|本人是|这里是)([{SURNAMES}]{_TITLE})"),
    re.compile(rf"(?<![\u4e00-\u9fff])([{SURNAMES}]{_TITLE})"),
]


def find_name(text: str) -> tuple[str, int, int] | None:
    """(name as said, start, end) of the caller's name, or None."""
    for i, pattern in enumerate(_PATTERNS):
        m = pattern.search(text)
        if not m:
            continue
        if i == 0:
            surname, given, title = m.group(1), m.group(2), m.group(3)
            name = surname + (given or "") + (title or "")
            return name, m.start(1), max(m.end(g) for g in (1, 2, 3) if m.group(g))
        return m.group(1), m.start(1), m.end(1)
    return None
