"""`lanectl demo` is the README's first command: it must run offline and check itself."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from conftest import run_lanectl
from lanectl.demoorg import KEYS
from simkit import scan_for


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, capture_output=True, text=True, check=True
    ).stdout.strip()


@pytest.mark.slow
def test_demo_runs_the_whole_organisation_offline_and_checks_its_outcomes(tmp_path: Path) -> None:
    proc = run_lanectl(tmp_path, "demo", "--dir", str(tmp_path / "d"))
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    assert "✓ demo complete: every expected outcome happened." in out
    for outcome in (
        "fetch: built, signed, checks green, in review",
        "the 429 paused the whole budget once; no retry storm",
        "the same red rules bind the security agent: both attempts blocked and recorded",
        "the deploy task is not eligible while a red-rule event is open",
        "merge refused for lack of a signed human approval (exit 3, recorded)",
        "merged with a true merge; the signed approval is kept",
        "the low-tier task merged under the standing approval",
    ):
        assert f"✓ {outcome}" in out
    repo = tmp_path / "d" / "shop"
    # What it says happened is in the repository, for plain git to show.
    assert git(repo, "show", "main:shop/retry.py").startswith('"""Retry transient errors')
    merges = git(repo, "log", "--merges", "--format=%s", "main").splitlines()
    assert len(merges) == 2
    assert set(git(repo, "log", "--format=%an", "lanectl/state").split()) == {"lanectl"}
    assert (repo / "docs/decisions/0002-retry-with-exponential-backoff.md").is_file()
    audit = run_lanectl(repo, "audit")
    assert audit.returncode == 0, audit.stdout + audit.stderr
    # The fake provider keys reach the SDKs only: not the output, the repository or its state.
    for value, _ in KEYS.values():
        assert value not in out + proc.stderr
        assert scan_for(value, repo) == []


def test_demo_refuses_an_existing_directory(tmp_path: Path) -> None:
    (tmp_path / "d" / "shop").mkdir(parents=True)
    proc = run_lanectl(tmp_path, "demo", "--dir", str(tmp_path / "d"))
    assert proc.returncode == 1
    assert "already exists" in proc.stderr
