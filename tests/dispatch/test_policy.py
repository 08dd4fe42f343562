import pytest

from bot.dispatch.policy import Policy


@pytest.mark.parametrize("value", ["1.5", "-0.1", "high"])
def test_bad_threshold_fails_at_start(monkeypatch, value):
    monkeypatch.setenv("HOTLINE_THRESHOLD_TYPE", value)
    with pytest.raises(ValueError, match="HOTLINE_THRESHOLD_TYPE|threshold type"):
        Policy.from_env()


def test_threshold_from_environment(monkeypatch):
    monkeypatch.setenv("HOTLINE_THRESHOLD_LOCATION", "0.9")
    assert Policy.from_env().thresholds["location"] == 0.9


def test_stricter_threshold_sends_a_confident_record_to_an_agent(extractor, monkeypatch):
    from dataclasses import replace

    rec = extractor.extract("喂你好，我是朝阳区望京街道望京西园三区的，家里暖气一点都不热，我姓王，电话13812345678")
    assert rec.dispatch.action == "dispatch"
    strict = Policy(thresholds={**Policy().thresholds, "type": 1.0})
    decision = strict.decide(replace(rec, confidence={**rec.confidence, "type": 0.99}), rec.dispatch.units)
    assert decision.action == "handoff" and "诉求类型" in decision.reason
    assert decision.units == rec.dispatch.units
