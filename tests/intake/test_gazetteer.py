import json

import pytest

from bot import DATA_DIR
from bot.intake.gazetteer import Gazetteer, load_gazetteer

BEIJING = json.loads((DATA_DIR / "beijing.json").read_text(encoding="utf-8"))
TAXONOMY_DISTRICTS = ["东城区", "西城区", "朝阳区", "海淀区", "丰台区", "石景山区", "门头沟区", "房山区", "通州区",
                      "顺义区", "昌平区", "大兴区", "怀柔区", "平谷区", "密云区", "延庆区"]


@pytest.fixture(scope="module")
def gaz():
    return load_gazetteer()


def test_gazetteer_holds_all_of_beijing():
    assert sorted(BEIJING) == sorted(TAXONOMY_DISTRICTS)
    assert sum(len(s) for s in BEIJING.values()) == 339


@pytest.mark.parametrize("district", TAXONOMY_DISTRICTS)
def test_every_district_by_full_and_short_name(gaz, district):
    assert gaz.resolve(f"我在{district}这边").district == district
    assert gaz.resolve(f"{district[:-1]}这边路灯坏了").district == district


def test_every_street_by_official_name(gaz):
    wrong = []
    for district, streets in BEIJING.items():
        for street in streets:
            r = gaz.resolve(f"{district}{street}有个问题")
            if (r.district, r.street) != (district, street):
                wrong.append((district, street, r.district, r.street))
    assert wrong == []


def test_street_alone_infers_its_district(gaz):
    wrong = []
    for district, streets in BEIJING.items():
        for street in streets:
            if street == "八里庄街道":  # in 朝阳区 and 海淀区: needs the district
                continue
            r = gaz.resolve(f"我住{street}，路灯不亮")
            if (r.district, r.street) != (district, street):
                wrong.append((street, r.district, r.street))
    assert wrong == []


@pytest.mark.parametrize(
    ("text", "district", "street"),
    [
        ("望京这边暖气不热", "朝阳区", "望京街道"),
        ("回龙观停水了", "昌平区", "回龙观街道"),
        ("梨园镇的路灯", "通州区", "梨园地区"),  # dual-named town: either name, the gazetteer's out
        ("石景山鲁谷那边", "石景山区", "鲁谷街道"),
        ("三里屯的酒吧太吵", "朝阳区", "三里屯街道"),
        ("国贸附近", "朝阳区", "建外街道"),
        ("海淀区八里庄街道", "海淀区", "八里庄街道"),
        ("朝阳区八里庄", "朝阳区", "八里庄街道"),
        ("我在望经济到这边住", "朝阳区", "望京街道"),  # ASR sound-alike
        ("回龙管这边停电", "昌平区", "回龙观街道"),
        ("不是朝阳，是海淀", "海淀区", None),  # a correction drops the negated place
        ("房山城关那边", "房山区", "城关街道"),  # a generic short form right after its district
        ("延庆区永宁这边", "延庆区", "永宁镇"),
        ("昌平区沙和", "昌平区", "沙河地区"),  # sound-alike right after the district
        ("梨缘那边停电了", "通州区", "梨园地区"),  # sound-alike followed by 那边
        ("我住望经花园五号楼", "朝阳区", "望京街道"),  # a two-syllable sound-alike followed by an estate's suffix
        ("顺义石园 不对不对 是顺义仁和这边", "顺义区", "仁和地区"),  # the caller corrects the place
        ("我们在回龙观，不是，是霍营", "昌平区", "霍营街道"),
        ("朝阳区，不是海淀区，八里庄那边", "朝阳区", "八里庄街道"),  # 不是 before a place negates that one
        ("海淀区不是说要修路吗，八里庄这段一直没修", "海淀区", "八里庄街道"),  # 不是说 corrects nothing
        ("孩子交了一学期学费", None, None),  # sounds like a community (海子角): communities need their own characters
        ("美丽乡村建设", None, None),
        ("八里庄那边", None, None),  # two districts have one: do not guess
        ("平房里太冷了", None, None),  # 平房 is also a word: only 平房地区 counts
        ("天桥底下有人摆摊", None, None),
        ("暖气不热", None, None),
    ],
)
def test_resolution(gaz, text, district, street):
    r = gaz.resolve(text)
    assert (r.district, r.street) == (district, street)
    assert (r.confidence > 0) == (district is not None)


def test_community_gives_its_street(gaz):
    district, streets = next(iter(BEIJING.items()))
    street, communities = next((s, c) for s, c in streets.items() if c)
    r = gaz.resolve(f"{communities[0]}门口")
    assert r.street == street and r.community == communities[0]


def test_sound_alike_is_less_confident_than_exact(gaz):
    assert gaz.resolve("望京街道").confidence > gaz.resolve("望经济到").confidence


def test_landmark_outside_gazetteer_is_rejected():
    with pytest.raises(ValueError, match="不存在区"):
        Gazetteer(BEIJING, {"某地": {"district": "不存在区"}})


def test_wrong_size_gazetteer_is_rejected():
    with pytest.raises(ValueError, match="16 districts"):
        Gazetteer({"朝阳区": BEIJING["朝阳区"]}, {})


@pytest.mark.parametrize(
    ("text", "district", "street"),
    [
        ("回龙观龙跃苑三区电梯困人了", "昌平区", "龙泽园街道"),  # the estate says which part of the area
        ("大兴榆垡 新机场那边 工地", "大兴区", "榆垡镇"),  # not when the two are apart
        ("我就是景山那边的", "东城区", "景山街道"),  # no sound-alike (是景山: 石景山) over a short form
        ("昨天下大雨地铁口都淹了", None, None),
    ],
)
def test_area_before_an_estate(gaz, text, district, street):
    r = gaz.resolve(text)
    assert (r.district, r.street) == (district, street)
