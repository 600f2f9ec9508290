from __future__ import annotations

import subprocess
from pathlib import Path

from conftest import run_lanectl


def test_demo_runs_offline_and_checks_its_outcomes(tmp_path: Path) -> None:
    proc = run_lanectl(tmp_path, "demo", "--dir", str(tmp_path / "d"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "✓ demo complete" in proc.stdout
    repo = tmp_path / "d" / "shop"
    # the artifacts it names exist and are plain git
    log = subprocess.run(
        ["git", "log", "--format=%an", "lanectl/state"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    )
    assert set(log.stdout.split()) == {"lanectl"}
    assert (repo / "docs/decisions/0002-retry-with-exponential-backoff.md").is_file()


def test_demo_refuses_an_existing_directory(tmp_path: Path) -> None:
    (tmp_path / "d" / "shop").mkdir(parents=True)
    proc = run_lanectl(tmp_path, "demo", "--dir", str(tmp_path / "d"))
    assert proc.returncode == 1
    assert "already exists" in proc.stderr
