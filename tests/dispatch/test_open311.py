"""bot/dispatch/open311: the record as a unit sees it, its GeoReport v2 form, the answers parsed, the services."""

import copy

import pytest

from bot.dispatch import open311
from bot.taxonomy import load_taxonomy

HEATING = "朝阳区望京街道望京西园三区{n}号楼暖气不热，我姓王，电话13911112222"
REPORT = "我要举报朝阳区望京街道有群租房，{n}号楼住了十几个人，我姓李，电话13911112223"


def test_form_of_a_record(make_record):
    record = make_record(HEATING)
    fields = open311.request_fields(record, "12345-20261121-000001")
    form = dict(fields)
    assert form["service_code"] == "utilities.heating"
    assert form["description"] == f"{record['summary']}\n{record['text']}"
    assert form["address_string"] == record["location"]["address"]
    assert form["attribute[ticket]"] == "12345-20261121-000001"
    assert form["attribute[type]"] == "help"
    assert form["attribute[urgency]"] == str(record["urgency"])
    assert form["attribute[deadline]"] == record["deadline"]
    assert (form["attribute[district]"], form["attribute[street]"]) == ("朝阳区", "望京街道")
    assert [v for k, v in fields if k == "attribute[units][]"] == [u["name"] for u in record["dispatch"]["units"]]
    assert (form["last_name"], form["phone"]) == ("王", "13911112222")
    assert "lat" not in form and "long" not in form and "api_key" not in form and "jurisdiction_id" not in form


def test_credentials_coordinates_and_the_category_when_there_is_no_subcategory(make_record):
    record = make_record(HEATING, subcategory=None)
    record["location"] |= {"latitude": 39.99, "longitude": 116.47}
    form = dict(open311.request_fields(record, None, api_key="k", jurisdiction="beijing.gov.cn"))
    assert (form["api_key"], form["jurisdiction_id"]) == ("k", "beijing.gov.cn")
    assert form["service_code"] == "utilities"
    assert (form["lat"], form["long"]) == ("39.99", "116.47")
    assert "attribute[ticket]" not in form


def test_a_record_with_no_location_cannot_become_a_request(make_record):
    record = make_record(HEATING)
    record["location"] = {"district": None, "street": None, "community": None, "address": None,
                          "latitude": None, "longitude": None}
    with pytest.raises(ValueError, match="needs a location"):
        open311.request_fields(record, "t")
    record["location"] |= {"latitude": 39.99, "longitude": 116.47}
    assert "address_string" not in dict(open311.request_fields(record, "t"))


def test_a_long_text_is_cut_to_the_description_limit(make_record):
    record = make_record(HEATING)
    record["text"] = "暖气不热" * 2000
    assert len(dict(open311.request_fields(record, None))["description"]) == open311.DESCRIPTION_LIMIT


def test_a_report_keeps_the_reporter_out_of_the_payload(make_record):
    record = make_record(REPORT)
    assert record["contact"] == {"name": "李", "phone": "13911112223", "confidential": True}
    before = copy.deepcopy(record)
    view = open311.dispatch_view(record)
    assert record == before  # the stored record is not touched
    assert view["contact"] == {"name": None, "phone": None, "confidential": True}
    assert "13911112223" not in view["text"] and "姓李" not in view["text"]
    assert len(view["text"]) == len(record["text"]) and "name" not in view["evidence"]
    assert "phone" not in view["evidence"] and view["evidence"]["category"] == record["evidence"]["category"]
    fields = open311.request_fields(record, "t")
    assert not {"last_name", "first_name", "phone", "email"} & {k for k, _ in fields}
    assert not any("13911112223" in v or "姓李" in v for _, v in fields)
    assert dict(fields)["attribute[type]"] == "report"


def test_a_report_loses_numbers_the_extractor_missed(make_record):
    record = make_record(REPORT)
    record["text"] += "，备用电话139 1111 2224，或者幺三九一一一一二二二五"
    view = open311.dispatch_view(record)
    assert "139 1111 2224" not in view["text"] and "幺三九一一一一二二二五" not in view["text"]


def test_other_records_are_sent_as_they_are(make_record):
    record = make_record(HEATING)
    assert open311.dispatch_view(record) is record


@pytest.mark.parametrize("body, expected", [
    ([{"service_request_id": 293944, "service_notice": "", "account_id": None}], ("293944", None)),
    ([{"token": "12345"}], (None, "12345")),
    ([{"service_request_id": "SR-1", "token": "t"}], ("SR-1", "t")),
])
def test_parse_created(body, expected):
    assert open311.parse_created(body) == expected


@pytest.mark.parametrize("body", [[], {}, "ok", [1], [{}], [{"service_request_id": ""}], None])
def test_parse_created_refuses_anything_else(body):
    with pytest.raises(ValueError):
        open311.parse_created(body)


def test_parse_status():
    assert open311.parse_status([{"service_request_id": "1", "status": "closed", "status_notes": "修好了"}]) == "closed"
    for body in ([{"service_request_id": "1"}], [{"status": ""}], [], {"status": "open"}):
        with pytest.raises(ValueError):
            open311.parse_status(body)


def test_error_description():
    assert open311.error_description(open311.error_body(400, "service_code missing")) == "service_code missing"
    assert open311.error_description({"error": "x"}) is None


def test_services_cover_every_code_a_record_can_carry():
    tax = load_taxonomy()
    services = open311.services(tax)
    codes = [s["service_code"] for s in services]
    assert set(codes) == set(tax.subcategory_codes) | set(tax.categories) and len(codes) == len(set(codes))
    heating = next(s for s in services if s["service_code"] == "utilities.heating")
    assert heating["service_name"] == "供暖" and heating["group"] == "水电气热" and heating["metadata"] is True
    assert heating["type"] == "realtime" and "暖气" in heating["keywords"]
