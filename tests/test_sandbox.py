"""The Landlock sandbox of agent processes (ADR 0032): real processes, real keys, and the
kernel saying no — to checks, the `run` tool, reviewers' runs and command agents alike."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from conftest import Cli, git
from dispatchkit import OTHER_KEY, Builders, worker
from gatekit import Org
from lanectl import isolation, reviewtools, sandbox, sandboxrules, worktrees
from lanectl.guard import Guard
from lanectl.policy import Actor, load_context
from lanectl.providers import ToolCall
from lanectl.toolbox import Commands, Toolbox, ToolResult

# What a test a model wrote might do: read every path it was told, try to write the others,
# and say what happened, one JSON line. It exits 1 when it read a private key.
PROBE = """
import json, os, socket, sys
plan = json.loads({plan!r})
seen = {{}}
for name, path in plan.get("read", {{}}).items():
    try:
        with open(path, "rb") as f:
            seen[name] = "read: " + f.read().decode(errors="replace")
    except OSError as exc:
        seen[name] = type(exc).__name__
for name, path in plan.get("list", {{}}).items():
    try:
        seen[name] = "listed: " + ",".join(sorted(os.listdir(path)))
    except OSError as exc:
        seen[name] = type(exc).__name__
for name, path in plan.get("write", {{}}).items():
    try:
        with open(path, "a") as f:
            f.write("written by the probe\\n")
        seen[name] = "written"
    except OSError as exc:
        seen[name] = type(exc).__name__
for name, port in plan.get("connect", {{}}).items():
    try:
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
        seen[name] = "connected"
    except OSError as exc:
        seen[name] = type(exc).__name__
print(json.dumps(seen))
sys.exit(1 if any("PRIVATE KEY" in v for v in seen.values()) else 0)
"""


def probe(**plan: Any) -> str:
    return PROBE.format(plan=json.dumps(plan))


def last_json(text: str) -> dict[str, str]:
    line = [ln for ln in text.strip().splitlines() if ln.startswith("{")][-1]
    found: dict[str, str] = json.loads(line)
    return found


@pytest.fixture
def org(cli: Cli, lane_repo: Path, tmp_path: Path) -> Org:
    return Org(lane_repo, cli, tmp_path)


@pytest.fixture
def builders(org: Org, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Builders:
    return Builders(org, tmp_path, monkeypatch)


def key_material(*paths: Path) -> list[str]:
    """Lines of the private keys' base64 body: what must never show up anywhere."""
    return [ln for p in paths for ln in p.read_text().splitlines()[1:-1] if len(ln) > 20]


def leaks(org: Org, material: list[str], *texts: str) -> list[str]:
    everything = "\n".join(texts) + git(org.repo, "log", "--all", "-p", "--format=%B")
    for path in org.ws.state_dir.rglob("*"):
        if path.is_file() and ".git" not in path.parts:
            everything += path.read_text(errors="replace")
    return [m for m in material if m in everything]


def test_this_machine_has_landlock() -> None:
    """Every other test here needs it: CI runs on Linux with Landlock enabled."""
    assert sandbox.abi() >= 1, sandbox.unavailable_reason()


def test_a_check_cannot_read_the_builders_key_or_another_agents(
    org: Org, builders: Builders
) -> None:
    own, other = org.agent_key("builder-claude"), org.agent_key("reviewer-gpt")
    code = probe(read={"own": str(own), "other": str(other), "mine": "README.md"})
    builders.script("probe-agent", worker(f"pathlib.Path('probe.py').write_text({code!r})\n"))
    builders.configure("probe-agent", checks=("python3 probe.py", "git log -1 --format=%s"))
    tid = org.task("Probe the keys")
    [result] = builders.dispatch().results
    # The check tolerates the refusal (exit 0 unless it read a key), so the build is green.
    assert result.outcome == "review", result.reason
    probed, logged = result.checks
    seen = last_json(str(probed["output_tail"]))
    assert seen == {"own": "PermissionError", "other": "PermissionError", "mine": "read: # shop\n"}
    assert logged["exit_code"] == 0, logged  # git in the worktree still works
    assert str(logged["output_tail"]).strip() == "command builder"  # main's last commit
    material = key_material(own, other)
    assert material
    assert leaks(org, material, json.dumps(result.to_json())) == []
    # lanectl itself, outside the sandbox, still read the builder's key and signed.
    signers = org.repo / ".lanes" / "allowed_signers"
    sig = git(org.repo, "-c", f"gpg.ssh.allowedSignersFile={signers}", "log", "-1",
              "--format=%G? %GS", f"lanes/{tid}")  # fmt: skip
    assert sig == "G agent:builder-claude"


def make_box(org: Org, rules_for: Any, commands: Commands) -> tuple[Toolbox, Path, Path, str]:
    ws = org.ws
    tid = org.task("Tools")
    wt = worktrees.prepare(ws, tid, git(org.repo, "rev-parse", "main")).path
    guard = Guard(ws, Actor("builder-claude", "builder"), load_context(ws, "builder-claude",
                  task=tid, worktree=wt), tid)  # fmt: skip
    home = isolation.private_home(ws.private_dir, "builder-claude")
    box = Toolbox(
        guard,
        wt,
        write=True,
        env=isolation.agent_env(home),
        redactor=isolation.Redactor([]),
        run_timeout_s=30,
        commands=commands,
        sandbox=rules_for(wt, home),
    )
    return box, wt, home, tid


def call(box: Toolbox, name: str, **args: Any) -> ToolResult:
    return box.call(ToolCall(f"call-{name}", name, args))


class Listener:
    """A TCP server on loopback that counts the connections it accepts."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            conn.close()

    def close(self) -> None:
        self.sock.close()


def test_the_run_tool_reads_its_worktree_but_no_key_and_writes_nowhere_else(
    org: Org, tmp_path: Path
) -> None:
    ws = org.ws
    own, other = org.agent_key("builder-claude"), org.agent_key("reviewer-gpt")
    other_task = org.task("Someone else's work")
    elsewhere = worktrees.prepare(ws, other_task, git(org.repo, "rev-parse", "main")).path
    (elsewhere / "draft.txt").write_text("another builder's unfinished work\n")
    outside = tmp_path / "outside.txt"
    ledger_dir = ws.state_dir / ".lanes" / "log"
    listener = Listener()

    def rules_for(wt: Path, home: Path) -> sandbox.Rules:
        settings = sandboxrules.Settings()
        return sandboxrules.for_agent(ws, settings, worktree=wt, home=home, network=False)

    box, wt, home, _ = make_box(org, rules_for, Commands(patterns=("python3 probe.py",)))
    try:
        assert call(box, "write_file", path="notes.txt", content="mine\n").content.startswith(
            "created"
        )
        (wt / "key-link").symlink_to(own)  # planted by the model's code: the kernel follows it
        code = probe(
            read={
                "notes": "notes.txt", "own": str(own), "other": str(other), "link": "key-link",
                "elsewhere": str(elsewhere / "draft.txt"), "user-home": str(Path.home() / ".gitconfig"),
            },
            list={"keys": str(own.parent), "tmp": "/tmp"},
            write={
                "worktree": "out.txt", "home": str(home / "cache.txt"), "outside": str(outside),
                "ledger": str(ledger_dir / "forged.jsonl"), "git-config": str(ws.common_dir / "config"),
            },
            connect={"loopback": listener.port},
        )  # fmt: skip
        call(box, "write_file", path="probe.py", content=code)
        result = call(box, "run", command="python3 probe.py")
        assert result.content.startswith("exit 0\n"), result.content
        seen = last_json(result.content)
        assert seen == {
            "notes": "read: mine\n", "own": "PermissionError", "other": "PermissionError",
            "link": "PermissionError", "elsewhere": "PermissionError",
            "user-home": "PermissionError", "keys": "PermissionError", "tmp": "PermissionError",
            "worktree": "written", "home": "written", "outside": "PermissionError",
            "ledger": "PermissionError", "git-config": "PermissionError",
            "loopback": "PermissionError",
        }  # fmt: skip
        assert (wt / "out.txt").read_text() == "written by the probe\n"
        assert not outside.exists()
        assert listener.accepted == 0
        # With the network allowed (as for checks), the same probe reaches the listener.
        box.sandbox = rules_for(wt, home).with_network(True)
        assert last_json(call(box, "run", command="python3 probe.py").content)["loopback"] == (
            "connected"
        )
        assert listener.accepted == 1
    finally:
        listener.close()
    # The sandbox was the child's alone: this process reads the key and writes anywhere.
    assert own.read_text().startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
    outside.write_text("the dispatcher may\n")
    assert leaks(org, key_material(own, other), result.content) == []


def test_a_reviewers_run_is_sandboxed_too(org: Org) -> None:
    own, reviewer = org.agent_key("builder-claude"), org.agent_key("reviewer-gpt")
    (org.repo / "probe.py").write_text(
        probe(read={"builder": str(own), "reviewer": str(reviewer)}, write={"tree": "x.txt"})
    )
    git(org.repo, "add", "probe.py")
    git(org.repo, "commit", "-q", "-m", "a test that pries")
    tid = org.task("Review me")
    raw = {"tools": {"commands": ["python3 probe.py"]}}
    kit = reviewtools.prepare(
        org.ws, raw, tid, git(org.repo, "rev-parse", "main"), "reviewer-gpt", "reviewer"
    )
    try:
        assert kit.box.sandbox is not None
        assert kit.box.sandbox.network is False
        result = call(kit.box, "run", command="python3 probe.py")
        assert last_json(result.content) == {
            "builder": "PermissionError", "reviewer": "PermissionError", "tree": "written",
        }  # fmt: skip
    finally:
        reviewtools.remove(org.ws, tid, "reviewer")


def test_a_command_agent_cannot_read_keys_your_home_or_lanectls_environment(
    org: Org, builders: Builders, isolated_home: Path
) -> None:
    own, other = org.agent_key("builder-claude"), org.agent_key("reviewer-gpt")
    human = isolated_home / ".ssh" / "id_ed25519"
    human.parent.mkdir()
    human.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nhuman key, not for agents\n")
    plan = json.dumps({
        "own": str(own), "other": str(other), "human": str(human),
        "keys": str(own.parent), "home": str(isolated_home),
    })  # fmt: skip
    builders.script(
        "curious-agent",
        worker(f"""
plan, seen = json.loads({plan!r}), {{}}
for name, path in plan.items():
    try:
        seen[name] = os.listdir(path) if os.path.isdir(path) else open(path).read()
    except OSError as exc:
        seen[name] = type(exc).__name__
try:
    seen["dispatcher"] = open(f"/proc/{{os.getppid()}}/environ").read()
except OSError as exc:
    seen["dispatcher"] = type(exc).__name__
pathlib.Path(os.environ["HOME"], "seen.json").write_text(json.dumps(seen))
"""),
    )
    builders.configure("curious-agent")
    tid = org.task("Look around")
    # A separate dispatcher whose own environment holds another agent's key.
    env = {**os.environ, "OPENAI_API_KEY": OTHER_KEY}
    proc = subprocess.run(
        [sys.executable, "-m", "lanectl", "dispatch", "--once"],
        cwd=org.repo, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "not sandboxed" not in proc.stdout + proc.stderr
    seen = json.loads((org.ws.private_dir / "homes" / "builder-claude" / "seen.json").read_text())
    assert seen == {
        "own": "PermissionError", "other": "PermissionError", "human": "PermissionError",
        "keys": "PermissionError", "home": "PermissionError", "dispatcher": "PermissionError",
    }  # fmt: skip
    # Its work in the worktree was committed, signed by lanectl with the key it could not read.
    assert git(org.repo, "diff", "--name-only", "main", f"lanes/{tid}") == f"src/{tid}.py"
    assert builders.state(tid) == "review"
    assert leaks(org, key_material(own, other), proc.stdout, proc.stderr) == []


def test_configured_paths_widen_the_sandbox_but_never_to_the_keys(
    org: Org, builders: Builders, tmp_path: Path
) -> None:
    shared = tmp_path / "shared-cache"
    shared.mkdir()
    (shared / "data.txt").write_text("from the cache\n")
    code = probe(read={"read": str(shared / "data.txt")}, write={"write": str(shared / "w")})
    builders.script("cache-agent", worker(f"pathlib.Path('probe.py').write_text({code!r})\n"))
    builders.configure("cache-agent", checks=("python3 probe.py",), sandbox={"read": [str(shared)]})
    org.task("Use the cache")
    [result] = builders.dispatch().results
    assert result.outcome == "review", result.reason
    # Read-only: the read succeeds, the write is refused.
    assert last_json(str(result.checks[0]["output_tail"])) == {
        "read": "read: from the cache\n", "write": "PermissionError",
    }  # fmt: skip
    builders.configure("cache-agent", sandbox={"write": ["~"]})  # HOME holds LANECTL_HOME here
    tid = org.task("Too wide")
    refused = org.cli("dispatch", "--once")
    assert refused.code == 1
    assert "sandbox › write › 0: ~ would let agent processes reach lanectl's key directory" in (
        refused.out + refused.err
    )
    assert builders.state(tid) == "ready"  # refused before anything was claimed


def test_a_bad_sandbox_path_is_a_config_error_with_its_line(cli: Cli, lane_repo: Path) -> None:
    config = lane_repo / ".lanes" / "config.yaml"
    config.write_text(config.read_text() + "sandbox:\n  read: [relative/dir]\n")
    result = cli("check")
    assert result.code == 1
    line = config.read_text().splitlines().index("sandbox:") + 1
    assert (
        f".lanes/config.yaml:{line + 1}: sandbox › read: value error, item 0: must be an "
        "absolute path or start with ~/" in result.out + result.err
    )


def test_without_landlock_doctor_warns_and_required_refuses_dispatch(
    org: Org, builders: Builders, monkeypatch: pytest.MonkeyPatch
) -> None:
    healthy = org.cli("doctor")
    assert "✓ agent processes run under Landlock (ABI" in healthy.out
    own = org.agent_key("builder-claude")
    code = probe(read={"own": str(own)})
    builders.script("probe-agent", worker(f"pathlib.Path('probe.py').write_text({code!r})\n"))
    builders.configure("probe-agent", checks=("python3 probe.py",))
    monkeypatch.setenv(sandbox.OFF_SWITCH, "off")  # as on a kernel without Landlock
    assert sandbox.abi() == 0
    doctor = org.cli("doctor")
    assert doctor.code == 1
    assert (
        "! agent processes are not sandboxed: they can read lanectl's key directory" in doctor.out
    )
    assert "LANECTL_SANDBOX=off" in doctor.out
    assert "fix: unset LANECTL_SANDBOX; or set sandbox: {required: true}" in doctor.out
    # Not required: dispatch says so once and runs the builder without the sandbox, where
    # the same check reads the key (which is what the sandbox is for).
    tid = org.task("Unsandboxed")
    result = org.cli("dispatch", "--once")
    assert result.out.count("agent processes are not sandboxed") == 1, result.out
    assert builders.state(tid) == "blocked"
    # Required: dispatch refuses before it claims anything, and so does any agent process.
    builders.configure("probe-agent", checks=("python3 probe.py",), sandbox={"required": True})
    tid = org.task("Must be sandboxed")
    refused = org.cli("dispatch", "--once")
    assert refused.code == 3
    assert "agent processes are not sandboxed and sandbox.required is set: dispatch refuses" in (
        refused.out + refused.err
    )
    assert builders.state(tid) == "ready"
    doctor = org.cli("doctor")
    assert "✗ agent processes are not sandboxed and sandbox.required is set" in doctor.out
    captured = isolation.run(
        ["true"], cwd=org.repo, env={"PATH": os.environ["PATH"]}, timeout=10,
        redactor=isolation.Redactor([]), sandbox=sandbox.Rules(required=True),
    )  # fmt: skip
    assert captured.exit_code == sandbox.DENIED
    assert captured.output.startswith("refused to start true: the sandbox is required")


def run_wrapped(argv: list[str], rules: sandbox.Rules, cwd: Path) -> isolation.Captured:
    return isolation.run(
        argv, cwd=cwd, env={"PATH": os.environ["PATH"], "LANG": "C.UTF-8"}, timeout=30,
        redactor=isolation.Redactor([]), sandbox=rules,
    )  # fmt: skip


def test_the_wrapper_starts_programs_as_exec_would(tmp_path: Path) -> None:
    rules = sandbox.Rules(read=[*sandboxrules.SYSTEM, sys.prefix, sys.base_prefix])
    missing = run_wrapped(["no-such-program-here"], rules, tmp_path)
    assert missing.exit_code == sandbox.NOT_FOUND
    assert missing.output.strip() == "cannot start no-such-program-here: No such file or directory"
    assert missing.argv == ("no-such-program-here",)  # what is recorded is the program's argv
    # Found on PATH even when the rules leave Python's own library unreadable.
    bare = run_wrapped(
        ["sh", "-c", "echo found"], sandbox.Rules(read=sandboxrules.SYSTEM), tmp_path
    )
    assert (bare.exit_code, bare.output) == (0, "found\n")
    # SIGPIPE is the default again (Python ignores it): `yes` dies quietly on a closed pipe.
    piped = run_wrapped(["sh", "-c", "yes | head -n 1; grep -E '^(NoNewPrivs|CapEff)' "
                         "/proc/self/status"], rules, tmp_path)  # fmt: skip
    assert piped.ok, piped.output
    assert piped.output.split() == ["y", "CapEff:", "0000000000000000", "NoNewPrivs:", "1"]
    usage = subprocess.run(
        [sys.executable, "-I", "-m", "lanectl.sandbox", "{}"], capture_output=True, text=True,
        check=False,
    )  # fmt: skip
    assert usage.returncode == 2
    bad = subprocess.run(
        [sys.executable, "-I", "-m", "lanectl.sandbox", '{"v": 9}', "--", "true"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert bad.returncode == sandbox.DENIED
    assert "the sandbox could not be applied (not a version 1 ruleset)" in bad.stderr


def test_rules_are_paths_only_and_round_trip() -> None:
    rules = sandbox.Rules(read=["/usr", "/a b"], write=["/w"], network=False, required=True)
    again = sandbox.Rules.decode(rules.encode())
    assert (again.read, again.write, again.network) == (("/usr", "/a b"), ("/w",), False)
    assert "required" not in rules.encode()
    with pytest.raises(sandbox.SandboxError):
        sandbox.Rules.decode('{"v": 1, "read": ["relative"], "write": [], "net": true}')
    assert sandbox.fs_rights(1) == (1 << 13) - 1
    assert sandbox.fs_rights(3) == (1 << 15) - 1
    assert sandbox.fs_rights(5) == (1 << 16) - 1


def test_the_wrapper_and_the_cli_stay_light(tmp_path: Path) -> None:
    wrapper = (
        "import sys, lanectl.sandbox\n"
        "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('typer', 'rich', 'anthropic', 'openai', 'pydantic', 'yaml', 'git', 'dataclasses'))))"
    )
    proc = subprocess.run([sys.executable, "-I", "-c", wrapper], capture_output=True,
                          text=True, check=True, cwd=tmp_path)  # fmt: skip
    assert proc.stdout.strip() == ""
    cli = (
        "import sys; from lanectl.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "print('LOADED=' + ','.join(m for m in sys.modules if 'sandbox' in m))"
    )
    proc = subprocess.run([sys.executable, "-c", cli], capture_output=True, text=True,
                          check=True, cwd=tmp_path)  # fmt: skip
    assert proc.stdout.strip().splitlines()[-1] == "LOADED="
