"""`harken demo` as a user runs it: a real subprocess on its own SQLite data directory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import create_engine, text


def test_demo_runs_a_whole_campaign(tmp_path: Path) -> None:
    data_dir = tmp_path / "demo"
    env = {k: v for k, v in os.environ.items() if not k.startswith("HARKEN_")}
    env["COLUMNS"] = "200"
    result = subprocess.run(
        [sys.executable, "-m", "harken", "demo", "--data-dir", str(data_dir), "--contacts", "3", "--wait", "20"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "where to look" in out and "report:" in out and "/i/" in out and "ont_live_" in out
    assert "completed" in out
    reports = list((data_dir / "demo-report").glob("*.md"))
    assert reports and reports[0].stat().st_size > 1000
    engine = create_engine(f"sqlite:///{data_dir / 'harken.db'}")
    with engine.connect() as conn:
        statuses = [r[0] for r in conn.execute(text("SELECT status FROM conversations"))]
        campaign = conn.execute(text("SELECT status FROM campaigns")).scalar_one()
        events = [r[0] for r in conn.execute(text("SELECT type FROM events"))]
    engine.dispose()
    assert statuses == ["completed"] * 3
    assert campaign == "completed"
    assert events.count("interview.completed") == 3 and "campaign.completed" in events
