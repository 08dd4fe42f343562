import pytest

from bot.intake.contact import find_name


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("我姓王，电话13812345678", "王"),
        ("免贵姓张先生", "张先生"),
        ("我叫李明，住在这", "李明"),
        ("我是刘女士", "刘女士"),
        ("我姓李，叫李小红，", "李小红"),
        ("麻烦转告，我是孙师傅", "孙师傅"),
    ],
)
def test_names(text, name):
    found = find_name(text)
    assert found is not None
    assert found[0] == name
    assert text[found[1] : found[2]].replace("，叫", "").replace("叫", "").startswith(name[0])


@pytest.mark.parametrize("text", ["我们物业太差了", "楼上装修太吵", "小区门口乱停车"])
def test_no_name(text):
    assert find_name(text) is None
