import pytest

from bot.dispatch.routing import Router, load_router
from bot.taxonomy import load_taxonomy


def test_every_subcategory_has_units_with_a_known_location():
    router = load_router()
    for code in load_taxonomy().subcategory_codes:
        units = router.units(code, "朝阳区", "望京街道")
        assert units, code
        assert {u.level for u in units} <= {"street", "district", "city", "enterprise"}


def test_street_office_first_and_town_government():
    router = load_router()
    assert router.units("environment.noise", "朝阳区", "望京街道")[0].name == "朝阳区望京街道办事处"
    assert router.units("environment.noise", "通州区", "宋庄镇")[0].name == "通州区宋庄镇人民政府"


def test_utility_and_street_dispatched_jointly():
    units = load_router().units("utilities.heating", "朝阳区", "望京街道")
    assert [u.level for u in units] == ["enterprise", "street"]


def test_unknown_location_drops_location_bound_units():
    units = load_router().units("labor.wage_arrears", None, None)
    assert units == []
    assert load_router().units("public_security.exit_entry", None, None)[0].level == "city"


def test_catalogue_must_cover_every_subcategory():
    with pytest.raises(ValueError, match="lacks"):
        Router({"other.other": ["street"]}, ["street"], ["other.other", "utilities.heating"])


def test_unknown_unit_level_is_rejected():
    with pytest.raises(ValueError, match="unknown unit"):
        Router({"other.other": ["county:某局"]}, ["street"], ["other.other"])
