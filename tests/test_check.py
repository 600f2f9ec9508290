from __future__ import annotations

import json
from pathlib import Path

from conftest import Cli, git
from lanectl import config

PROJECT = Path(__file__).resolve().parents[1]


def write_config(repo: Path, text: str) -> None:
    (repo / ".lanes/config.yaml").write_text(text)


def test_fresh_init_passes_check(cli: Cli) -> None:
    result = cli("check", ok=True)
    assert "no problems" in result.out


def test_this_projects_own_lanes_config_is_valid() -> None:
    assert config.validate(PROJECT) == []


def test_unknown_key_names_file_line_path_and_suggests(cli: Cli, lane_repo: Path) -> None:
    write_config(
        lane_repo,
        "version: 1\n"
        "base_branch: main\n"
        "agents:\n"
        "  builder-claude:\n"
        "    role: builder\n"
        "    provider: anthropic\n"
        "    famly: anthropic\n",
    )
    result = cli("check")
    assert result.code == 1
    assert (
        ".lanes/config.yaml:7: agents › builder-claude › famly: unknown key; did you mean 'family'?"
        in result.out
    )
    # the missing required key is reported too: every problem, not only the first
    assert ".lanes/config.yaml:4: agents › builder-claude › family: field required" in result.out


def test_wrong_type_names_the_line(cli: Cli, lane_repo: Path) -> None:
    write_config(
        lane_repo, "version: 1\nbudgets:\n  main: {credential_env: OPENAI_API_KEY, rpm: fast}\n"
    )
    result = cli("check", "--json")
    problems = json.loads(result.out)["problems"]
    assert result.code == 1
    assert any(p.startswith(".lanes/config.yaml:3: budgets › main › rpm:") for p in problems)


def test_top_level_typo_and_bad_enum(cli: Cli, lane_repo: Path) -> None:
    write_config(lane_repo, "version: 1\nbase_brnch: main\npolicy:\n  diversity: sometimes\n")
    out = cli("check").out
    assert ".lanes/config.yaml:2: base_brnch: unknown key; did you mean 'base_branch'?" in out
    assert ".lanes/config.yaml:4: policy › diversity:" in out


def test_literal_secret_in_config_is_an_error_and_never_echoed(cli: Cli, lane_repo: Path) -> None:
    secret = "sk-ant-api03-abcdefghijklmnopqrstuvwxyz0123"
    write_config(
        lane_repo, f"version: 1\nbudgets:\n  main:\n    credential_env: {secret}\n    rpm: 5\n"
    )
    result = cli("check")
    assert result.code == 1
    assert (
        ".lanes/config.yaml:4: budgets › main › credential_env: looks like a literal secret"
        in result.out
    )
    assert secret not in result.out + result.err


def test_unknown_budget_reference(cli: Cli, lane_repo: Path) -> None:
    write_config(
        lane_repo,
        "version: 1\nagents:\n  b: {role: builder, provider: openai, family: openai, budget: nope}\n",
    )
    assert ".lanes/config.yaml:3: agents › b › budget: unknown budget 'nope'" in cli("check").out


def test_malformed_config_yaml(cli: Cli, lane_repo: Path) -> None:
    write_config(lane_repo, "version: 1\nagents: [unclosed\n")
    result = cli("check")
    assert result.code == 1
    assert result.out.startswith(".lanes/config.yaml:")
    assert "malformed YAML" in result.out
    # and commands that need the config say so in one line, no traceback
    listed = cli("task", "list")
    assert listed.code == 1
    assert "Traceback" not in listed.err
    assert listed.err.startswith("lanectl: .lanes/config.yaml:")


def test_check_reports_every_problem_across_files(cli: Cli, lane_repo: Path) -> None:
    tid = json.loads(cli("--json", "task", "new", "a", ok=True).out)["id"]
    tasks_dir = lane_repo / ".git/lanectl/state/.lanes/tasks"
    (tasks_dir / "T-00000000-broken.md").write_text("no front matter\n")
    (path,) = tasks_dir.glob(f"{tid}-*.md")
    path.write_text(path.read_text().replace("risk: medium", "risk: medium\ndepnds_on: []"))
    write_config(lane_repo, "version: 2\n")
    result = cli("check")
    assert result.code == 1
    lines = result.out.splitlines()
    assert any(line.startswith(".lanes/config.yaml:1: version:") for line in lines)
    assert any("T-00000000-broken.md: no front matter" in line for line in lines)
    assert any("unknown key 'depnds_on'; did you mean 'depends_on'?" in line for line in lines)
    assert lines[-1].startswith("✗ 3 problem(s)")


def test_check_outside_init_says_what_to_do(git_repo: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    result = Cli(git_repo, capsys)("check")
    assert result.code == 1
    assert ".lanes/config.yaml: missing; run `lanectl init`" in result.out
    assert git(git_repo, "branch", "--list", "lanectl/state") == ""


def test_check_reports_a_bad_allowed_signers_line(cli: Cli, lane_repo: Path) -> None:
    path = lane_repo / ".lanes/allowed_signers"
    path.write_text(path.read_text() + "alice@example.com ssh-ed25519 not-base64!!\n")
    result = cli("check")
    assert result.code == 1
    assert ".lanes/allowed_signers:" in result.out


def test_check_says_where_state_paths_are(cli: Cli, lane_repo: Path) -> None:
    tasks_dir = lane_repo / ".git/lanectl/state/.lanes/tasks"
    tasks_dir.mkdir(parents=True, exist_ok=True)
    (tasks_dir / "T-00000000-broken.md").write_text("no front matter\n")
    out = cli("check").out
    assert "checked out at .git/lanectl/state" in out
