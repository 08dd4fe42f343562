import pytest

from bot.intake.phone import find_phones


@pytest.mark.parametrize(
    ("text", "digits", "kind"),
    [
        ("我电话13812345678", "13812345678", "mobile"),
        ("号码是138 1234 5678谢谢", "13812345678", "mobile"),
        ("手机139-1111-2222", "13911112222", "mobile"),
        ("+86 13911112222", "13911112222", "mobile"),
        ("电话一三八一二三四五六七八", "13812345678", "mobile"),
        ("幺三九 零一二三 四五六七", "13901234567", "mobile"),
        ("打幺八六两二三三洞洞拐九", "18622330079", "mobile"),
        ("座机010-62345678", "01062345678", "landline"),
        ("家里电话62345678", "62345678", "landline"),
        ("电话 13812345678 2号楼", "13812345678", "mobile"),
        ("座机（010）67715523", "01067715523", "landline"),
        ("电话(010) 6771-5523吧", "01067715523", "landline"),
        ("座机（洞幺洞）六七七一五五二三", "01067715523", "landline"),
        ("（2）13812345678", "13812345678", "mobile"),  # a list number in brackets is no area code
        ("电话１３８１２３４５６７８", None, None),  # full-width digits are normalised by clean(), not here
    ],
)
def test_phone_numbers(text, digits, kind):
    found = find_phones(text)
    if digits is None:
        assert found == []
        return
    assert [p.digits for p in found] == [digits]
    assert found[0].kind == kind
    # the span covers exactly what was said
    said = text[found[0].start : found[0].end]
    assert said[0] not in " ，" and said[-1] not in " ，"


@pytest.mark.parametrize(
    "text", ["京政发（2023）1234号", "案号(2023)1234号", "（二〇二三）一二三四",
             "身份证110101199003071234", "住3号楼2单元501", "三天了一直没人管", "12345热线", "一二三四五"])
def test_not_phone_numbers(text):
    assert find_phones(text) == []


def test_several_numbers_in_order():
    found = find_phones("手机13800001111，座机010-65551234")
    assert [p.digits for p in found] == ["13800001111", "01065551234"]


@pytest.mark.parametrize(
    ("text", "digits"),
    [
        ("我电话是幺五幺，幺零零八，三三六二", ["15110083362"]),  # speech recognition's commas between groups
        ("电话零幺零，六幺八零，二二四七", ["01061802247"]),
        ("住了两年，一三八一二三四五六七八", ["13812345678"]),
        ("13800001111，13900002222", ["13800001111", "13900002222"]),
        ("电话13812345678，3号楼", ["13812345678"]),
        ("我电话是一三九一一零二，呃，八八四零", ["13911028840"]),  # a hesitation between groups
        ("一三九 嗯 一一零二 八八四零", ["13911028840"]),
        ("电话一八八杠一零二六杠三三九七", ["18810263397"]),  # 杠: a spoken dash
        ("座机六三一七杠二九八零", ["63172980"]),
    ],
)
def test_groups_separated_by_commas_pauses_or_spoken_dashes(text, digits):
    assert [p.digits for p in find_phones(text)] == digits


@pytest.mark.parametrize(
    "text", ["一，二，三，四，五，六，七，八", "欠了三万，一二月份的工资", "每月2000，3000不等", "2301，2302室",
             "二零二二，二零二三年", "房租3500，3800，4200", "停车费每月300，4000一年", "1,234,567.89元",
             "三十二，呃，三十三号楼", "一二，嗯，三四五六七八"])
def test_commas_join_no_amounts_years_or_lists(text):
    assert find_phones(text) == []


def test_a_number_beside_an_amount_is_kept():
    assert [p.digits for p in find_phones("押金5000，6771-5523是物业电话")] == ["67715523"]


def test_a_long_list_of_numbers_holds_no_phone():
    assert find_phones("，".join(["二三"] * 1000)) == []
    assert find_phones(" ".join(["12"] * 1000)) == []
