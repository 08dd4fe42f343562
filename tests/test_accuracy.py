"""The issue's accuracy targets on the held-out file, with the model `make install` trained.

Redirect recall and urgency-1 recall are reported by `hotline evaluate` and in README rather
than asserted here: on 49 and 76 examples one message moves them by two points."""

import pytest

from bot.evaluate import run
from bot.intake.dataset import HELDOUT_FILE

TARGETS = {"type": 0.85, "kind": 0.93, "category": 0.85, "urgency": 0.70, "district": 0.95, "street": 0.90,
           "phone": 1.0, "processed": 1.0}


@pytest.fixture(scope="module")
def report(extractor):
    if not HELDOUT_FILE.exists():
        pytest.skip("no held-out file")
    return run(extractor)


@pytest.mark.parametrize(("field", "target"), TARGETS.items())
def test_heldout_target(report, field, target):
    ok, total = report.fields[field]
    assert total > 0
    assert ok / total >= target, f"{field}: {ok}/{total}"


def test_false_redirects_are_rare(report):
    non_emergencies = report.fields["processed"][1] - report.fields["redirect_recall"][1]
    assert report.false_redirects <= 0.01 * non_emergencies
