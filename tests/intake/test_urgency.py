import pytest

from bot.intake.urgency import urgent


@pytest.mark.parametrize(
    "text",
    [
        "楼道里煤气味特别大，不敢开灯",
        "家里燃气报警器一直响",
        "电梯困人了，孩子在里面哭",
        "我被困在电梯里了",
        "马路中间井盖没了",
        "楼上水管爆了水哗哗往下流",
        "下水道返水，脏水都漫到屋里了",
        "我们整栋楼都停暖了，外面零下十度",
        "整个小区停水一天了",
        "电线掉地上了还在冒火花",
        "燃气灶都关了，屋里还是有股味",
        "商场的直梯困住人了",
        "有人把路当中的井盖偷了",
        "化粪池满了，粪水漫到院里了",
        "我们全村停水两天了",
        "养老院的暖气坏了，老人都冻着呢",
    ],
)
def test_urgent_situations(text):
    m = urgent(text)
    assert m is not None
    assert m.group() in text


@pytest.mark.parametrize(
    "text",
    [
        "请问闻到煤气味应该打哪个电话",
        "建议给老旧小区的燃气管道做个检查，怕漏气",
        "上礼拜我在电梯里被困了一个小时，物业也没个说法",
        "电梯关了好几个月了一直在维修",
        "家里暖气不热",
        "楼上装修太吵",
        "污水漫到人行道上了",
        "我们整个小区没电梯，老人上下楼太难了",
        "养老院说停暖了还照收暖气费",
        "饭馆的污水淌到门口人行道上了",
    ],
)
def test_not_urgent(text):
    assert urgent(text) is None
