from __future__ import annotations

from pathlib import Path

import pytest

from conftest import Cli
from gatekit import Org


@pytest.fixture
def org(cli: Cli, lane_repo: Path, tmp_path: Path) -> Org:
    return Org(lane_repo, cli, tmp_path)


def test_full_gate_up_to_approval(org: Org) -> None:
    tid = org.task("Retry transient fetch errors", "--risk", "medium")
    report = org.gate(tid)
    assert org.stage(report, "spec")["passed"]
    assert not org.stage(report, "implementation")["passed"]
    assert "no branch" in org.stage(report, "implementation")["reason"]
    head = org.build(tid, {"src/fetch.py": "def fetch():\n    return 1\n"})
    report = org.gate(tid)
    impl = org.stage(report, "implementation")
    assert impl["passed"], impl
    assert "signed by agent:builder-claude" in impl["reason"]
    correctness = org.stage(report, "review.correctness")
    assert not correctness["passed"]
    assert correctness["next"] == f"lanectl review {tid} --role reviewer"
    org.reviewed(tid, head)
    report = org.gate(tid)
    for name in ("review.correctness", "review.security", "eligibility"):
        assert org.stage(report, name)["passed"], org.stage(report, name)
    assert org.stage(report, "review.design")["status"] == "skip"
    assert report["eligible"] is True
    assert report["approved"] is False
    assert org.cli("gate", tid).code == 0  # eligible and no approval yet
    org.approval_commit(tid)
    report = org.gate(tid)
    assert report["approved"] is True, org.stage(report, "approval")
    text = org.cli("gate", tid).out
    assert "✓ approval" in text
    assert "signed by alice" in text
