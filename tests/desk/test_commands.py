"""`hotline add-agent` and `hotline export-corrections` as an administrator runs them."""

import json
import os
import subprocess
import sys

from bot.storage import Agents, Storage, open_engine


def hotline(*args, env):
    return subprocess.run([sys.executable, "-m", "bot", *args], capture_output=True, text=True, timeout=300,
                          env=os.environ | env)


def test_add_agent_then_log_in(tmp_path):
    url = f"sqlite:///{tmp_path / 'h.db'}"
    made = hotline("add-agent", "li", "--name", "李坐席", env={"HOTLINE_DB_URL": url,
                                                           "HOTLINE_AGENT_PASSWORD": "cli-test-pass"})
    assert made.returncode == 0, made.stderr
    assert Agents(open_engine(url)).login("li", "cli-test-pass") is not None
    short = hotline("add-agent", "wang", env={"HOTLINE_DB_URL": url, "HOTLINE_AGENT_PASSWORD": "short"})
    assert short.returncode == 2 and "at least 8" in short.stderr


def test_export_corrections_writes_the_agents_labels(tmp_path, extractor):
    url = f"sqlite:///{tmp_path / 'h.db'}"
    store = Storage(open_engine(url))
    record = extractor.extract("我家楼顶漏水，墙皮都掉了")
    store.save(record, "handoff")
    store.edit(record.id, {"district": "海淀区", "street": "学院路街道"}, actor="li")
    out = tmp_path / "corrections.jsonl"
    done = hotline("export-corrections", "--out", str(out), env={"HOTLINE_DB_URL": url})
    assert done.returncode == 0 and "1 corrected records" in done.stderr
    [row] = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert row["text"] == record.text and row["labels"]["street"] == "学院路街道"
    assert row["corrected"] == {"district": "海淀区", "street": "学院路街道"} and row["agents"] == ["li"]
