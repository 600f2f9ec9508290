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


def test_only_refused_attempts_hold_eligibility(org: Org) -> None:
    from lanectl import ledger, state

    tid = org.eligible({"src/fetch.py": "def fetch():\n    return 1\n"}, "--risk", "medium")
    ws = org.ws
    # The pacer and dispatch record a paused budget with result "blocked": nobody attempted
    # anything, so the task stays eligible.
    with state.change(ws, "builder-claude", "builder", "throttled", tid) as change:
        ledger.record(
            change, "budget.throttled", task=tid, result="blocked", reason="budget paused"
        )
    assert org.stage(org.gate(tid), "eligibility")["passed"]
    # A refused attempt holds it until a human acknowledges it.
    with state.change(ws, "builder-claude", "builder", "denied", tid) as change:
        ledger.record(
            change, "tool.denied", task=tid, result="blocked", reason="red rule",
            attempted=["push host config outside pipeline (scp f prod:/etc/)"],
            data={"rule": "red.outside-pipeline", "action": "run"},
        )  # fmt: skip
    held = org.stage(org.gate(tid), "eligibility")
    assert not held["passed"]
    assert "1 red-rule event(s) not acknowledged" in held["reason"]
    assert "scp f prod:/etc/" in held["reason"]
    org.cli("gate", tid, "--acknowledge", ok=True)
    assert org.stage(org.gate(tid), "eligibility")["passed"]
