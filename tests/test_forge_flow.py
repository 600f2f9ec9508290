"""lanectl's commands on a github forge, as a person runs them, against the fake GitHub.

`lanectl gate` sets the ``lanectl/gate`` status, `lanectl merge` re-evaluates
the whole gate and has GitHub merge with ``sha=`` the approval commit and
method ``merge``, `lanectl doctor --forge` judges the base branch's
protection — and the token never shows up anywhere lanectl writes.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import Cli, Result, git
from fakegithub import TOKEN, FakeGitHub, fake_github
from gatekit import Org

FILES = {"src/fetch.py": "def fetch():\n    return 1\n"}

__all__ = ["TOKEN", "fake_github"]


def use_github(repo: Path, url: str) -> None:
    """Point the base branch's config at the fake GitHub (committed: it is policy)."""
    path = repo / ".lanes/config.yaml"
    forge = f'forge: {{kind: github, repo: octo/shop, token_env: GITHUB_TOKEN, api_url: "{url}"}}'
    path.write_text(re.sub(r"^forge:.*$", forge, path.read_text(), flags=re.MULTILINE))
    git(repo, "add", ".lanes/config.yaml")
    git(repo, "commit", "-q", "-m", "Use GitHub")


@pytest.fixture
def org(cli: Cli, lane_repo: Path, tmp_path: Path, fake: FakeGitHub) -> Org:
    org = Org(lane_repo, cli, tmp_path)
    use_github(lane_repo, fake.url)
    return org


def push(org: Org, fake: FakeGitHub, *refs: str) -> None:
    git(org.repo, "push", "-q", "--force", str(fake.git_dir), *refs)


def test_merge_on_github_with_the_approval_sha(
    org: Org, fake: FakeGitHub, isolated_home: Path
) -> None:
    outputs: list[Result] = []
    fake.protect(["lanectl/gate"])  # GitHub merges only with the gate's status green
    tid = org.eligible(FILES, "--risk", "medium")
    head = git(org.repo, "rev-parse", f"lanes/{tid}")
    push(org, fake, "main", f"lanes/{tid}")

    gate = org.cli("gate", tid)
    outputs.append(gate)
    assert gate.code == 0, gate.err
    assert f"Set github status lanectl/gate: pending on {head[:7]}." in gate.out
    assert fake.state.statuses[head][-1]["state"] == "pending"

    refused = org.cli("merge", tid)  # no approval: refused before GitHub hears of it
    outputs.append(refused)
    assert refused.code == 3
    assert "✗ approval" in refused.err
    assert fake.requests("PUT") == []
    assert fake.requests("POST", r"/pulls$") == []

    outputs.append(org.approve(tid))
    approval = git(org.repo, "rev-parse", f"lanes/{tid}")
    not_pushed = org.cli("merge", tid)  # GitHub still has H as the head
    outputs.append(not_pushed)
    assert not_pushed.code == 3
    assert f"refused: {tid} cannot merge on github" in not_pushed.err
    assert (
        f"✗ forge  lanes/{tid} on github is at {head[:7]}, not the approved {approval[:7]}"
        in not_pushed.err
    )
    assert f"push it (git push <remote> lanes/{tid})" in not_pushed.err
    assert fake.requests("PUT") == []
    (event,) = [e for e in org.events("merge.refused") if "forge" in e["reason"]]
    assert event["task"] == tid

    push(org, fake, f"lanes/{tid}")
    main_before = git(org.repo, "rev-parse", "main")
    merged = org.cli("merge", tid)
    outputs.append(merged)
    assert merged.code == 0, merged.err
    (put,) = fake.requests("PUT", r"/pulls/1/merge$")
    assert (put.body["sha"], put.body["merge_method"]) == (approval, "merge")
    assert put.body["commit_title"].startswith(f"Merge {tid}: ")
    assert f"Lane-Approval: {approval}" in put.body["commit_message"]
    remote_main = git(fake.git_dir, "rev-parse", "main")
    assert f"Merged {tid} into main on github (#1): commit {remote_main[:7]}" in merged.out
    assert "Bring your main up to date with `git pull`." in merged.out
    # a true merge on GitHub: the signed approval is the second parent
    parents = git(fake.git_dir, "rev-parse", f"{remote_main}^1", f"{remote_main}^2").split()
    assert parents == [main_before, approval]
    assert git(org.repo, "rev-parse", "main") == main_before  # the local base is untouched
    pull = fake.state.pulls[1]
    assert pull["title"] == f"{tid}: Retry fetch"
    assert pull["body"].startswith(f"<!-- lanectl:task:{tid} -->")
    assert "## Goal" in pull["body"]
    assert fake.state.statuses[approval][-1]["state"] == "success"
    done = org.events("merge.done")[-1]
    assert (done["data"]["merge"], done["data"]["forge"]["number"]) == (remote_main, 1)
    shown = json.loads(org.cli("--json", "task", "show", tid, ok=True).out)
    assert shown["state"] == "merged"

    # the token went to GitHub, and nowhere lanectl writes or prints
    assert {r.authorization for r in fake.log} == {f"token {TOKEN}"}
    for result in outputs:
        assert TOKEN not in result.out + result.err
    files = [*org.repo.rglob("*"), *isolated_home.rglob("*")]  # ledger, state, crash logs
    leaked = [p for p in files if p.is_file() and TOKEN.encode() in p.read_bytes()]
    assert leaked == []
    log = git(org.repo, "log", "--all", "-p")
    assert TOKEN not in log


def test_gate_warns_when_github_cannot_take_the_status(org: Org, fake: FakeGitHub) -> None:
    tid = org.eligible(FILES)
    push(org, fake, "main")  # the task branch is not on GitHub
    result = org.cli("gate", tid)
    assert result.code == 0  # the verdict stands
    assert "lanectl: the verdict stands, but GitHub rejected the request to set the lanectl/gate" \
        in result.err  # fmt: skip
    assert "No commit found for SHA" in result.err
    fake.secondary_limit("POST", r"/statuses/", retry_after=30)
    push(org, fake, f"lanes/{tid}")
    limited = org.cli("--json", "gate", tid)
    assert json.loads(limited.out)["eligible"] is True
    assert "GitHub secondary rate limit while trying to set the lanectl/gate status" in limited.err
    assert "retry after 30 s" in limited.err


# -- doctor --forge ---------------------------------------------------------------------------


@pytest.fixture
def github_repo(lane_repo: Path, fake: FakeGitHub) -> Path:
    use_github(lane_repo, fake.url)
    return lane_repo


def doctor(cli: Cli) -> tuple[int, dict[str, list[dict[str, str]]]]:
    result = cli("doctor", "--forge", "--json")
    return result.code, json.loads(result.out)["checks"]


def test_doctor_on_an_unprotected_squash_only_repository(cli: Cli, github_repo: Path,
                                                        fake: FakeGitHub) -> None:  # fmt: skip
    fake.state.settings["allow_merge_commit"] = False
    code, checks = doctor(cli)
    assert code == 1
    assert [a["code"] for a in checks["forge"]] == ["unprotected", "squash-only"]
    text = cli("doctor", "--forge")
    assert "  ! main has no branch protection and no ruleset" in text.out
    assert "  ✗ octo/shop does not allow merge commits (squash or rebase only)" in text.out
    assert "      fix: Settings › General › Pull Requests: tick 'Allow merge commits'" in text.out


def test_doctor_names_missing_statuses_and_bypass_actors(cli: Cli, github_repo: Path,
                                                        fake: FakeGitHub) -> None:  # fmt: skip
    fake.state.settings.update(allow_squash_merge=False, allow_rebase_merge=False)
    fake.protect(["ci"], enforce_admins=False, bypass_users=["mallory"])
    fake.add_ruleset("release", [{"type": "deletion"}], bypass_actors=[
        {"actor_id": 5, "actor_type": "RepositoryRole", "bypass_mode": "always"}])  # fmt: skip
    code, checks = doctor(cli)
    assert code == 1
    found = {a["code"]: a["message"] for a in checks["forge"]}
    assert list(found) == ["gate-not-required", "audit-not-required", "admins-bypass",
                           "bypass-actors"]  # fmt: skip
    messages = [a["message"] for a in checks["forge"] if a["code"] == "bypass-actors"]
    assert messages == [
        "mallory may bypass main's pull request requirement",
        "ruleset 'release' lets RepositoryRole 5 (always) bypass its rules on main",
    ]


def test_doctor_is_quiet_about_a_well_protected_branch(cli: Cli, github_repo: Path,
                                                       fake: FakeGitHub) -> None:  # fmt: skip
    fake.state.settings.update(allow_squash_merge=False, allow_rebase_merge=False)
    fake.add_ruleset("gate", [{"type": "required_status_checks", "parameters": {
        "required_status_checks": [{"context": "lanectl/gate"}, {"context": "audit"}]}}])  # fmt: skip
    fake.protect([])
    code, checks = doctor(cli)
    assert (code, [a["code"] for a in checks["forge"]]) == (0, ["protected"])


def test_doctor_says_when_it_cannot_look(cli: Cli, github_repo: Path, fake: FakeGitHub,
                                         monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    fake.state.protection_readable = False
    code, checks = doctor(cli)
    assert code == 1
    assert checks["forge"][0]["code"] == "protection-unreadable"
    monkeypatch.delenv("GITHUB_TOKEN")
    code, checks = doctor(cli)
    assert code == 1
    (item,) = checks["forge"]
    assert item["code"] == "forge-failed"
    assert item["message"].startswith("$GITHUB_TOKEN is not set: lanectl reads the github token")


def test_doctor_on_the_local_forge_does_not_import_pygithub(lane_repo: Path) -> None:
    code = (
        "import sys; from lanectl.cli import main\n"
        "try:\n    main(['doctor', '--forge'])\nexcept SystemExit as e:\n    print('EXIT', e.code)\n"
        "print('GITHUB', 'github' in sys.modules)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=lane_repo, check=True)  # fmt: skip
    assert "· forge is local: nothing on a server protects main" in proc.stdout
    assert proc.stdout.strip().splitlines()[-2:] == ["EXIT 0", "GITHUB False"]


# -- the local forge and the registry ------------------------------------------------------


def test_the_local_forge_keeps_everything_in_git_and_the_ledger(cli: Cli, lane_repo: Path) -> None:
    from lanectl.errors import LaneError, Refused
    from lanectl.forge.base import ForgeError, InlineComment, ReviewPost
    from lanectl.forge.diffmap import for_range
    from lanectl.forge.registry import open_forge
    from lanectl.workspace import open_workspace

    ws = open_workspace(lane_repo)
    forge = open_forge(ws, ws.raw_config)
    assert forge.kind == "local"
    with pytest.raises(ForgeError, match="there is no branch lanes/T-AAAAAAAA yet"):
        forge.open_or_update_pr("T-AAAAAAAA", "lanes/T-AAAAAAAA", "main", "t", "b")
    git(lane_repo, "checkout", "-q", "-b", "lanes/T-AAAAAAAA")
    (lane_repo / "README.md").write_text("# shop\nmore\n")
    git(lane_repo, "commit", "-qam", "more")
    tip = git(lane_repo, "rev-parse", "HEAD")
    pr = forge.open_or_update_pr("T-AAAAAAAA", "lanes/T-AAAAAAAA", "main", "t", "b")
    assert (pr.number, pr.head_sha, pr.label) == (None, tip, "lanes/T-AAAAAAAA")
    post = ReviewPost("k", tip, "body", (InlineComment("README.md", 2, "in"),
                                         InlineComment("README.md", 9, "out")))  # fmt: skip
    posted = forge.post_review(pr, post, for_range(lane_repo, "main", tip))
    assert ([c.body for c in posted.inline], [c.body for c in posted.moved]) == (["in"], ["out"])
    forge.upsert_summary(pr, "reviewer", "pass")
    forge.set_status(tip, "pending", "eligible")
    with pytest.raises(ForgeError, match="status state must be one of"):
        forge.set_status(tip, "green", "x")
    with pytest.raises(Refused, match="not 'squash'"):
        forge.merge(pr, tip, "squash")
    assert forge.merge(pr, tip) is None  # lanectl merge makes the merge commit itself
    summary = json.loads(cli("log", "--kind", "forge.summary", "--json", ok=True).out)
    assert (summary["actor"], summary["task"], summary["data"]["role"]) == (
        "lanectl", "T-AAAAAAAA", "reviewer")  # fmt: skip
    status = json.loads(cli("log", "--kind", "forge.status", "--json", ok=True).out)
    assert (status["head"], status["data"]["context"], status["data"]["state"]) == (
        tip, "lanectl/gate", "pending")  # fmt: skip
    (advice,) = forge.protection_report("main").items
    assert advice.code == "local-forge"
    with pytest.raises(LaneError, match="unknown forge kind 'gitlab'"):
        open_forge(ws, {"forge": {"kind": "gitlab"}})


def test_a_forge_plugin_registers_by_kind(lane_repo: Path) -> None:
    from lanectl.forge import registry
    from lanectl.forge.local import LocalForge
    from lanectl.workspace import open_workspace

    seen: list[registry.ForgeSpec] = []

    def build(ws: object, spec: registry.ForgeSpec) -> LocalForge:
        seen.append(spec)
        return LocalForge(open_workspace(lane_repo))

    registry.register("test-forge", build)
    try:
        ws = open_workspace(lane_repo)
        forge = registry.open_forge(ws, {"forge": {"kind": "test-forge", "repo": "a/b"}})
        assert isinstance(forge, LocalForge)
        assert "test-forge" in registry.kinds()
        assert (seen[0].repo, seen[0].token_env) == ("a/b", "GITHUB_TOKEN")
    finally:
        registry._REGISTERED.pop("test-forge")
