"""`lanectl approve` and `lanectl merge` from the command line, as a person runs them.

Real keys (ssh-keygen), real signed commits, real `git verify-commit`: the
approval is a signed empty commit bound to the head, the merge a true merge
commit whose second parent is that approval, and every refusal is recorded.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from conftest import Cli, git, run_in_terminal
from gatekit import Org, keygen

FILES = {"src/fetch.py": "def fetch():\n    return 1\n"}


@pytest.fixture
def org(cli: Cli, lane_repo: Path, tmp_path: Path) -> Org:
    return Org(lane_repo, cli, tmp_path)


def verify_with_base_signers(org: Org, commit: str) -> str:
    """%G? and %GS of ``commit`` under main's allowed_signers (a plain git check)."""
    signers = org.tmp / "base_allowed_signers"
    signers.write_text(git(org.repo, "show", "main:.lanes/allowed_signers") + "\n")
    return git(
        org.repo,
        "-c", "gpg.format=ssh", "-c", f"gpg.ssh.allowedSignersFile={signers}",
        "log", "-1", "--format=%G? %GS", commit,
    )  # fmt: skip


def in_future(days: int = 30) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).strftime("%Y-%m-%d")


def test_the_whole_flow_from_the_command_line(org: Org) -> None:
    tid = org.task("Retry transient fetch errors", "--risk", "medium")
    head = org.build(tid, FILES)
    org.reviewed(tid, head)
    assert org.cli("gate", tid).code == 0  # eligible, no approval yet
    main_before = git(org.repo, "rev-parse", "main")

    refused = org.cli("merge", tid)
    assert refused.code == 3
    assert f"refused: {tid} cannot merge" in refused.err
    assert "✗ approval" in refused.err
    assert "Recorded merge.refused in the ledger." in refused.err
    assert git(org.repo, "rev-parse", "main") == main_before
    (event,) = org.events("merge.refused")
    assert event["result"] == "refused"
    assert event["task"] == tid
    assert "approval" in event["reason"]

    approved = org.approve(tid)
    assert approved.code == 0, approved.err
    approval = git(org.repo, "rev-parse", f"lanes/{tid}")
    prefix = tid[2:6]
    assert (
        f"Approved: commit {approval[:7]} (signed, parent {head[:7]}). "
        f"Merge with: lanectl merge {prefix}" in approved.out
    )
    assert f'You are approving {tid} "Retry transient fetch errors"' in approved.out
    assert "tier medium" in approved.out
    assert "+2 −0 in 1 file (src/fetch.py)" in approved.out
    assert "SHA256:" in approved.out
    # SPEC §3.6: empty, signed by alice's key, parent H, trailers bound to H
    assert git(org.repo, "rev-parse", f"{approval}^") == head
    assert git(org.repo, "rev-parse", f"{approval}^{{tree}}") == git(
        org.repo, "rev-parse", f"{head}^{{tree}}"
    )
    assert verify_with_base_signers(org, approval) == "G alice@example.com"
    trailers = git(org.repo, "log", "-1", "--format=%(trailers:only,unfold)", approval)
    assert f"Lane-Task: {tid}" in trailers
    assert f"Lane-Approves: {head}" in trailers
    assert "Lane-Tier: medium" in trailers
    report = org.gate(tid)
    assert report["approved"] is True
    assert f"Lane-Gate: {report['gate_sha256']}" in trailers
    assert org.events("approval.recorded")[-1]["data"]["approval"] == approval
    shown = json.loads(org.cli("--json", "task", "show", tid, ok=True).out)
    assert shown["state"] == "approved"

    merged = org.cli("merge", prefix)
    assert merged.code == 0, merged.err
    merge = git(org.repo, "rev-parse", "main")
    assert f"Merged {tid} into main: commit {merge[:7]}" in merged.out
    # a true merge commit: first parent the old main, second the signed approval
    assert git(org.repo, "rev-parse", f"{merge}^1") == main_before
    assert git(org.repo, "rev-parse", f"{merge}^2") == approval
    body = git(org.repo, "log", "-1", "--format=%an <%ae>%n%(trailers:only,unfold)", merge)
    assert body.startswith("Alice Example <alice@example.com>")
    assert f"Lane-Merge: {tid}" in body
    assert f"Lane-Approval: {approval}" in body
    # main was checked out and clean: the work tree came along
    assert (org.repo / "src/fetch.py").read_text() == FILES["src/fetch.py"]
    assert git(org.repo, "status", "--porcelain", "--untracked-files=no") == ""
    assert org.events("merge.done")[-1]["data"]["merge"] == merge
    shown = json.loads(org.cli("--json", "task", "show", tid, ok=True).out)
    assert shown["state"] == "merged"

    audit = org.cli("audit")
    assert audit.code == 0, audit.err
    assert "✓ history" in audit.out
    assert "1 lane merge(s)" in audit.out


def test_merge_json_and_a_second_merge_is_refused(org: Org) -> None:
    tid = org.eligible(FILES)
    org.approve(tid)
    done = json.loads(org.cli("--json", "merge", tid, ok=True).out)
    assert done["approval"] == git(org.repo, "rev-parse", f"lanes/{tid}")
    again = org.cli("--json", "merge", tid)
    assert again.code == 3
    assert json.loads(again.out)["stages"][0]["reason"] == f"{tid} is merged"
    # the gate of a merged task names its merge instead of judging a head now in main
    gate = org.cli("gate", tid, ok=True).out
    assert f"merged into main by {done['merge'][:7]} (approval {done['approval'][:7]})" in gate
    assert json.loads(org.cli("--json", "gate", tid, ok=True).out)["merge"] == done["merge"]


def test_approve_refuses_an_agent_key(org: Org) -> None:
    tid = org.eligible(FILES)
    tip = git(org.repo, "rev-parse", f"lanes/{tid}")
    result = org.approve(tid, key=org.agent_key("builder-claude"))
    assert result.code == 3
    assert "belongs to agent:builder-claude; agents never approve" in result.err
    assert git(org.repo, "rev-parse", f"lanes/{tid}") == tip
    (event,) = org.events("approval.refused")
    assert event["task"] == tid
    assert "agents never approve" in event["reason"]


def test_approve_refuses_a_key_not_on_the_base_branch(org: Org) -> None:
    tid = org.eligible(FILES)
    stranger = keygen(org.tmp / "stranger", "mallory@example.com")
    result = org.approve(tid, key=stranger)
    assert result.code == 3
    assert "is not in main's .lanes/allowed_signers" in result.err
    # registered in the work tree but not merged into main: still not trusted
    bob = org.add_human("bob", "bob@example.com")
    result = org.approve(tid, key=Path(f"{bob}.pub"))
    assert result.code == 3
    assert "is not in main's .lanes/allowed_signers" in result.err
    assert len(org.events("approval.refused")) == 2
    assert org.gate(tid)["approval"] is None


def test_approve_refuses_when_the_gate_does_not_hold(org: Org) -> None:
    tid = org.task("Retry fetch")
    head = org.build(tid, FILES)
    org.check(tid, head)
    result = org.approve(tid)
    assert result.code == 3
    assert f"refused: {tid} cannot be approved" in result.err
    for stage in ("review.correctness", "review.security", "eligibility"):
        assert f"✗ {stage}" in result.err
    assert git(org.repo, "rev-parse", f"lanes/{tid}") == head
    (event,) = org.events("approval.refused")
    assert [s["stage"] for s in event["data"]["stages"]] == [
        "review.correctness",
        "review.security",
        "eligibility",
    ]


def test_approve_needs_a_terminal_or_yes(org: Org) -> None:
    tid = org.eligible(FILES)
    result = org.cli("approve", tid, "--key", str(org.human_keys["alice"]))
    assert result.code == 3
    assert "pass --yes" in result.err
    assert org.gate(tid)["approval"] is None


def test_approve_asks_to_type_the_task_id_in_a_terminal(org: Org) -> None:
    tid = org.eligible(FILES)
    key = str(org.human_keys["alice"])
    code, screen = run_in_terminal(org.repo, ["approve", tid, "--key", key], "T-WRONG")
    assert code == 1
    assert "not approved: you typed 'T-WRONG'" in screen
    assert org.gate(tid)["approval"] is None
    code, screen = run_in_terminal(org.repo, ["approve", tid, "--key", key], tid.lower())
    assert code == 0, screen
    assert "Type the task id to approve:" in screen
    assert "Approved: commit" in screen
    assert org.gate(tid)["approved"] is True


def test_approve_with_the_git_signing_key_and_a_pub_path(org: Org) -> None:
    tid = org.eligible(FILES)
    git(org.repo, "config", "user.signingkey", f"{org.human_keys['alice']}.pub")
    result = org.cli("approve", tid, "--yes")
    assert result.code == 0, result.err
    assert org.gate(tid)["approved"] is True
    assert "already approved" in org.cli("approve", tid, "--yes", ok=True).out


def test_approve_replaces_an_approval_that_does_not_count(org: Org) -> None:
    tid = org.eligible(FILES)
    forged = org.approval_commit(tid, key=org.agent_key("builder-claude"))
    result = org.approve(tid)
    assert result.code == 0, result.err
    assert f"replaces {forged[:7]}, an approval that does not count" in result.out
    report = org.gate(tid)
    assert report["approved"] is True
    assert report["approval"] != forged
    assert org.events("approval.recorded")[-1]["data"]["replaces"] == forged


def test_approving_your_own_high_tier_work_is_undone_and_refused(org: Org) -> None:
    org.cli(
        "agent", "add", "designer-gpt", "--role", "designer", "--provider", "openai",
        "--model", "gpt-5-mini", "--family", "openai", ok=True,
    )  # fmt: skip
    org.commit_policy("Add a designer")
    tid = org.task("Rotate credentials", "--risk", "high")
    head = org.signed_commit(
        f"lanes/{tid}", {"deploy/key.txt": "rotated\n"}, org.human_keys["alice"],
        f"Rotate\n\nLane-Task: {tid}",
    )  # fmt: skip
    org.reviewed(tid, head)
    org.review(tid, head, "designer-gpt", "designer", family="openai")
    result = org.approve(tid)
    assert result.code == 3, result.out
    assert "approver must not have signed commits in the range" in result.err
    assert "was put back" in result.err
    assert git(org.repo, "rev-parse", f"lanes/{tid}") == head


def test_usage_errors_exit_2(org: Org) -> None:
    assert org.cli("approve").code == 2
    assert org.cli("approve", "T-00000000", "--paths", "docs/**").code == 2
    assert org.cli("approve", "--standing", "--paths", "docs/**").code == 2


def test_a_commit_after_the_approval_refuses_the_merge_until_approved_again(org: Org) -> None:
    tid = org.eligible(FILES)
    org.approve(tid)
    main_before = git(org.repo, "rev-parse", "main")
    newer = org.build(tid, {"src/fetch.py": "def fetch():\n    return 2\n"})
    result = org.cli("merge", tid)
    assert result.code == 3
    assert "✗ review.correctness" in result.err
    assert "✗ approval" in result.err
    assert git(org.repo, "rev-parse", "main") == main_before
    # review and approve the new head: the old approval is history, not work
    org.reviewed(tid, newer)
    assert org.approve(tid).code == 0
    assert org.gate(tid)["approved"] is True
    org.cli("merge", tid, ok=True)
    assert git(org.repo, "rev-parse", "main^2^") == newer


def test_base_moved_and_merges_cleanly(org: Org) -> None:
    tid = org.eligible(FILES)
    org.approve(tid)
    approval = git(org.repo, "rev-parse", f"lanes/{tid}")
    (org.repo / "NOTES.md").write_text("moved on\n")
    git(org.repo, "add", "NOTES.md")
    git(org.repo, "commit", "-q", "-m", "Unrelated change on main")
    moved = git(org.repo, "rev-parse", "main")
    result = org.cli("merge", tid)
    assert result.code == 0, result.err
    assert "main had moved since the task branched; the merge was clean" in result.out
    merge = git(org.repo, "rev-parse", "main")
    assert git(org.repo, "rev-parse", f"{merge}^1") == moved
    assert git(org.repo, "rev-parse", f"{merge}^2") == approval
    assert (org.repo / "NOTES.md").exists()
    assert (org.repo / "src/fetch.py").exists()
    assert org.cli("audit").code == 0


def test_base_moved_and_conflicts(org: Org) -> None:
    tid = org.eligible(FILES)
    org.approve(tid)
    (org.repo / "src").mkdir()
    (org.repo / "src/fetch.py").write_text("def fetch():\n    return 'other'\n")
    git(org.repo, "add", "src/fetch.py")
    git(org.repo, "commit", "-q", "-m", "Conflicting change on main")
    moved = git(org.repo, "rev-parse", "main")
    result = org.cli("merge", tid)
    assert result.code == 3
    assert "does not merge cleanly" in result.err
    assert git(org.repo, "rev-parse", "main") == moved
    assert org.events("merge.refused")


def test_merge_refuses_a_dirty_checked_out_base(org: Org) -> None:
    tid = org.eligible(FILES)
    org.approve(tid)
    before = git(org.repo, "rev-parse", "main")
    (org.repo / "README.md").write_text("# shop\nwork in progress\n")
    result = org.cli("merge", tid)
    assert result.code == 3
    assert "uncommitted changes" in result.err
    assert git(org.repo, "rev-parse", "main") == before
    assert (org.repo / "README.md").read_text() == "# shop\nwork in progress\n"


def test_merge_while_another_branch_is_checked_out(org: Org) -> None:
    tid = org.eligible(FILES)
    org.approve(tid)
    git(org.repo, "checkout", "-q", "-b", "elsewhere")
    (org.repo / "README.md").write_text("# shop\nunrelated edit\n")
    org.cli("merge", tid, ok=True)
    assert git(org.repo, "rev-parse", "main^2") == git(org.repo, "rev-parse", f"lanes/{tid}")
    assert git(org.repo, "branch", "--show-current") == "elsewhere"
    assert not (org.repo / "src/fetch.py").exists()  # the checkout was not touched


# -- standing approvals --------------------------------------------------------------------


def low_task(org: Org, files: dict[str, str]) -> str:
    """A low-tier task with green checks and a correctness review (all low tier needs)."""
    tid = org.task("Fix docs", "--risk", "low")
    head = org.build(tid, files)
    org.check(tid, head)
    org.review(tid, head, "reviewer-gpt", "reviewer")
    return tid


def test_standing_approval_covers_low_tier_work_in_scope(org: Org) -> None:
    until = in_future()
    result = org.cli(
        "approve", "--standing", "--paths", "docs/**,sandbox/**", "--until", until,
        "--yes", "--key", str(org.human_keys["alice"]),
    )  # fmt: skip
    assert result.code == 0, result.err
    standing = git(org.repo, "rev-parse", "main")
    assert f"Standing approval {standing[:7]} recorded on main" in result.out
    assert verify_with_base_signers(org, standing) == "G alice@example.com"
    assert git(org.repo, "rev-parse", "main^{tree}") == git(org.repo, "rev-parse", "main~^{tree}")
    trailers = git(org.repo, "log", "-1", "--format=%(trailers:only,unfold)", standing)
    assert f"Lane-Standing-Paths: docs/**,sandbox/**\nLane-Standing-Until: {until}" in trailers
    assert org.events("approval.recorded")[-1]["data"]["standing"] is True

    tid = low_task(org, {"docs/guide.md": "# Guide\n"})
    report = org.gate(tid)
    assert report["approved"] is True, org.stage(report, "approval")
    reason = org.stage(report, "approval")["reason"]
    assert reason.startswith(f"covered by standing approval {standing[:7]} by alice")
    assert report["standing_approval"] == standing
    # no approval commit needed; the merge names the standing approval
    head = git(org.repo, "rev-parse", f"lanes/{tid}")
    merged = org.cli("merge", tid)
    assert merged.code == 0, merged.err
    assert f"covered by standing approval {standing[:7]}" in merged.out
    assert git(org.repo, "rev-parse", "main^2") == head
    body = git(org.repo, "log", "-1", "--format=%(trailers:only,unfold)", "main")
    assert f"Lane-Approval: {standing}" in body
    assert org.cli("audit").code == 0


def test_standing_approval_does_not_cover_work_out_of_scope_or_above_low(org: Org) -> None:
    org.cli(
        "approve", "--standing", "--paths", "docs/**", "--until", in_future(),
        "--yes", "--key", str(org.human_keys["alice"]), ok=True,
    )  # fmt: skip
    outside = low_task(org, {"docs/guide.md": "# Guide\n", "README.md": "# shop\nmore\n"})
    report = org.gate(outside)
    assert report["approved"] is False
    reason = org.stage(report, "approval")["reason"]
    assert "README.md is outside" in reason
    assert org.cli("merge", outside).code == 3
    medium = org.eligible({"docs/other.md": "# Other\n"}, "--risk", "medium", title="Docs")
    assert org.gate(medium)["approved"] is False


def test_an_expired_standing_approval_covers_nothing(org: Org) -> None:
    old = org.standing_commit("docs/**", "2020-01-31")
    tid = low_task(org, {"docs/guide.md": "# Guide\n"})
    report = org.gate(tid)
    assert report["approved"] is False
    assert f"{old[:7]} expired (2020-01-31)" in org.stage(report, "approval")["reason"]
    assert org.cli("merge", tid).code == 3
    past = org.cli(
        "approve", "--standing", "--paths", "docs/**", "--until", "2020-01-31",
        "--yes", "--key", str(org.human_keys["alice"]),
    )  # fmt: skip
    assert past.code == 1
    assert "already in the past" in past.err


def test_a_standing_approval_signed_by_an_agent_covers_nothing(org: Org) -> None:
    org.standing_commit("docs/**", in_future(), key=org.agent_key("builder-claude"))
    tid = low_task(org, {"docs/guide.md": "# Guide\n"})
    assert org.gate(tid)["approved"] is False
    refused = org.cli(
        "approve", "--standing", "--paths", "docs/**", "--until", in_future(),
        "--yes", "--key", str(org.agent_key("reviewer-gpt")),
    )  # fmt: skip
    assert refused.code == 3
    assert "agents never approve" in refused.err


def test_standing_approval_refuses_a_dirty_checked_out_base(org: Org) -> None:
    before = git(org.repo, "rev-parse", "main")
    (org.repo / "README.md").write_text("# shop\nediting\n")
    result = org.cli(
        "approve", "--standing", "--paths", "docs/**", "--until", in_future(),
        "--yes", "--key", str(org.human_keys["alice"]),
    )  # fmt: skip
    assert result.code == 3
    assert "uncommitted changes" in result.err
    assert git(org.repo, "rev-parse", "main") == before
