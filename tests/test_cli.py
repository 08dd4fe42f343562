"""The `hotline` command as a user runs it."""

import json
import os
import subprocess
import sys

import pytest

from bot.intake.dataset import HELDOUT_FILE
from bot.intake.model import TrainOptions


def hotline(*args, stdin=None):
    return subprocess.run([sys.executable, "-m", "bot", *args], input=stdin, capture_output=True, text=True,
                          timeout=300)


def test_extract_reads_stdin_one_json_line_per_input_line():
    lines = ["家里暖气不热，电话13812345678", "", "路灯不亮", "   ", "Hello, my visa expires"]
    r = hotline("extract", "--json", stdin="\n".join(lines) + "\n")
    out = r.stdout.splitlines()
    assert len(out) == len(lines)
    rows = [json.loads(x) for x in out]
    assert [("error" in row) for row in rows] == [False, True, False, True, False]
    assert rows[0]["contact"]["phone"] == "13812345678"
    assert rows[4]["language"] == "en"
    assert r.returncode != 0
    assert "input 2" in r.stderr and "input 4" in r.stderr
    assert "13812345678" not in r.stderr


def test_extract_arguments_all_good_exit_zero():
    r = hotline("extract", "--json", "小区门口乱停车", "请问社保怎么转移")
    assert r.returncode == 0, r.stderr
    rows = [json.loads(x) for x in r.stdout.splitlines()]
    assert [row["kind"] for row in rows] == ["demand", "consultation"]


def test_extract_plain_output():
    r = hotline("extract", "望京这边停水了")
    assert r.returncode == 0
    assert "utilities.water_supply" in r.stdout and "望京街道" in r.stdout


@pytest.mark.skipif(not HELDOUT_FILE.exists(), reason="no held-out file")
def test_evaluate_reports_every_field(tmp_path):
    errors = tmp_path / "errors.jsonl"
    r = hotline("evaluate", "--json", "--errors", str(errors))
    assert r.returncode == 0, r.stderr
    fields = json.loads(r.stdout)["fields"]
    for name in ("type", "kind", "category", "urgency", "urgency1_recall", "redirect_recall", "district",
                 "street", "phone", "auto_dispatched"):
        assert fields[name]["total"] > 0, name
    assert errors.exists()


def test_evaluate_reads_json_lines(tmp_path):
    good = tmp_path / "good.jsonl"
    rows = [{"text": "望京这边停水了，电话13811027745", "type": "help", "subcategory": "utilities.water_supply",
             "urgency": 2, "redirect": None, "district": "朝阳区", "street": "望京街道", "phone": "13811027745"},
            {"text": "暖气什么时候开始烧", "type": "consultation", "subcategory": "utilities.heating", "urgency": 4,
             "redirect": None, "district": None, "street": None, "phone": None}]
    good.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    r = hotline("evaluate", "--json", "--file", str(good))
    assert r.returncode == 0, r.stderr
    fields = json.loads(r.stdout)["fields"]
    assert fields["type"]["total"] == 2 and fields["street"]["total"] == 1 and fields["phone"]["total"] == 1
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(rows[0], ensure_ascii=False) + "\n{\"text\": \"半行\n", encoding="utf-8")
    r = hotline("evaluate", "--file", str(bad))
    assert r.returncode == 2 and "bad.jsonl:2" in r.stderr
    listed = tmp_path / "listed.jsonl"
    listed.write_text('["not", "an object"]\n', encoding="utf-8")
    r = hotline("evaluate", "--file", str(listed))
    assert r.returncode == 2 and "listed.jsonl:1" in r.stderr
    unlabelled = tmp_path / "unlabelled.jsonl"
    unlabelled.write_text(json.dumps({"text": "路灯不亮", "type": "help", "redirect": None}) + "\n", encoding="utf-8")
    r = hotline("evaluate", "--file", str(unlabelled))
    assert r.returncode == 2 and "unlabelled.jsonl:1" in r.stderr and "subcategory" in r.stderr
    broken = tmp_path / "broken.yml"
    broken.write_text("nlu:\n- intent: help\n  examples: [\n", encoding="utf-8")
    r = hotline("evaluate", "--file", str(broken))
    assert r.returncode == 2 and "broken.yml" in r.stderr and "Traceback" not in r.stderr


def test_evaluate_with_other_averaging_weights():
    """--mix changes what the records say (the n-gram model alone is not the shipped average)."""
    shipped = json.loads(hotline("evaluate", "--json").stdout)["fields"]
    ngram = hotline("evaluate", "--json", "--mix", "0")
    assert ngram.returncode == 0, ngram.stderr
    assert json.loads(ngram.stdout)["fields"] != shipped
    bad = hotline("evaluate", "--mix", "1.5")
    assert bad.returncode == 2 and "between 0 and 1" in bad.stderr


def test_bench_reports_figures():
    r = hotline("bench", "--records", "40")
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)
    for key in ("batched_records_per_s", "single_p95_ms", "model_load_s", "peak_rss_mb", "batched_vs_rules_only"):
        assert result[key] > 0
    assert result["torch_threads"] == int(os.environ.get("HOTLINE_INTAKE_THREADS") or TrainOptions.threads)


def test_missing_model_is_a_one_line_error(tmp_path):
    env = {**os.environ, "HOTLINE_MODEL_DIR": str(tmp_path)}
    r = subprocess.run([sys.executable, "-m", "bot", "extract", "路灯不亮"], capture_output=True, text=True, env=env,
                       timeout=300)
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [f"error: no trained intake model in {tmp_path}: run `hotline train` "
                                             "(or make install)"]
