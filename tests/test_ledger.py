from __future__ import annotations

import json
from pathlib import Path

import yaml

from conftest import Cli, git
from lanectl import ledger
from lanectl.state import change
from lanectl.workspace import open_workspace


def ledger_files(repo: Path) -> list[Path]:
    return sorted((repo / ".git/lanectl/state/.lanes/log").glob("*/*.jsonl"))


def make_tasks(cli: Cli, n: int) -> list[str]:
    return [
        json.loads(cli("--json", "task", "new", f"task {i}", ok=True).out)["id"] for i in range(n)
    ]


def test_every_state_change_records_a_chained_event(cli: Cli, lane_repo: Path) -> None:
    (tid,) = make_tasks(cli, 1)
    cli("task", "note", tid, "hello", ok=True)
    cli("task", "edit", tid, "--risk", "low", ok=True)
    cli("task", "cancel", tid, "--reason", "not needed", ok=True)
    (path,) = ledger_files(lane_repo)
    lines = path.read_bytes().splitlines()
    events = [json.loads(line) for line in lines]
    kinds = [e["kind"] for e in events]
    assert kinds == [
        "lanectl.initialised",
        "task.created",
        "task.note",
        "task.edited",
        "task.state",
    ]
    assert events[0]["prev"] is None
    for before, after in zip(lines, events[1:], strict=False):
        assert after["prev"] == ledger.line_hash(before)
    # ULIDs sort in time order, each line is also YAML
    assert [e["id"] for e in events] == sorted(e["id"] for e in events)
    assert yaml.safe_load(lines[-1])["kind"] == "task.state"
    assert events[-1]["reason"] == "not needed"
    assert events[-1]["data"] == {"from": "draft", "to": "cancelled"}
    # and the ledger file is committed on the state branch
    assert git(lane_repo, "status", "--porcelain") == ""
    committed = git(
        lane_repo, "show", f"lanectl/state:{path.relative_to(lane_repo / '.git/lanectl/state')}"
    )
    assert committed.count("\n") + 1 == len(lines)


def test_log_filters_and_shapes(cli: Cli) -> None:
    a, b = make_tasks(cli, 2)
    cli("task", "cancel", a, ok=True)
    out = cli("log", "--kind", "task.state", ok=True).out
    shaped = yaml.safe_load(out)
    assert len(shaped) == 1
    assert shaped[0]["task"] == a
    assert shaped[0]["result"] == "ok"
    assert list(shaped[0])[:4] == ["ts", "actor", "role", "kind"]
    jsonl = cli("log", "--json", "--task", b[2:7], ok=True).out.splitlines()
    assert [json.loads(line)["kind"] for line in jsonl] == ["task.created"]
    assert cli("log", "--json", "--actor", "nobody", ok=True).out == ""
    assert len(cli("log", "--json", "--role", "human", ok=True).out.splitlines()) == 4
    assert len(cli("log", "--json", "--kind", "task", ok=True).out.splitlines()) == 3
    assert cli("log", "--json", "--since", "1h", ok=True).out.count("\n") == 4
    assert cli("log", "--json", "--until", "2000-01-01", ok=True).out == ""
    assert cli("log", "--json", "--result", "blocked", ok=True).out == ""
    bad = cli("log", "--since", "yesterday-ish")
    assert bad.code == 1
    assert "--since" in bad.err


def test_blocked_events_print_in_the_gate_event_shape(cli: Cli, lane_repo: Path) -> None:
    ws = open_workspace(lane_repo)
    with change(ws, "security-gemini", "security", "policy") as ch:
        ledger.record(
            ch,
            "gate.blocked",
            attempted=[
                "reuse service credential across systems",
                "push host config outside pipeline",
            ],
            result="blocked",
            reason="same red rules apply to the reviewer",
        )
    out = cli("log", "--result", "blocked", ok=True).out
    event = yaml.safe_load(out)[0]
    assert event["actor"] == "security-gemini"
    assert event["attempted"] == [
        "reuse service credential across systems",
        "push host config outside pipeline",
    ]
    assert event["reason"] == "same red rules apply to the reviewer"


def test_audit_reports_a_torn_tail_and_repairs_it(cli: Cli, lane_repo: Path) -> None:
    make_tasks(cli, 2)
    (path,) = ledger_files(lane_repo)
    good = path.read_bytes()
    path.write_bytes(good + b'{"id": "01J", "ts": "2026')  # a crash mid-write
    result = cli("audit")
    assert result.code == 1
    assert "torn last line" in result.err
    assert f"{path.name}:4" in result.err
    # nothing else writes until it is repaired, and nothing is lost
    blocked = cli("task", "new", "another")
    assert blocked.code == 1
    assert "audit --repair" in blocked.err
    assert path.read_bytes().startswith(good)
    repaired = cli("audit", "--repair", ok=True)
    assert "repaired" in repaired.out
    data = path.read_bytes()
    assert data.startswith(good)
    last = json.loads(data.splitlines()[-1])
    assert last["kind"] == "ledger.repaired"
    assert last["data"]["line"] == 4
    cli("audit", ok=True)
    cli("task", "new", "another", ok=True)


def test_audit_names_a_line_edited_by_hand(cli: Cli, lane_repo: Path) -> None:
    make_tasks(cli, 3)
    (path,) = ledger_files(lane_repo)
    lines = path.read_bytes().splitlines()
    lines[1] = lines[1].replace(b'"task 0"', b'"task zero"')
    path.write_bytes(b"\n".join(lines) + b"\n")
    result = cli("audit")
    assert result.code == 1
    assert f"{path.name}:2: hash chain broken" in result.err
    # the last line, which no later line chains to, is caught against the committed ledger
    lines = path.read_bytes().splitlines()
    lines[1] = path.read_bytes().splitlines()[1]
    original = git(
        lane_repo,
        "-C",
        ".git/lanectl/state",
        "show",
        f"HEAD:{path.relative_to(lane_repo / '.git/lanectl/state')}",
    )
    path.write_text(original.replace('"task 2"', '"task two"') + "\n")
    result = cli("audit", "--json")
    report = json.loads(result.out)
    assert result.code == 1
    assert report["problems"][0]["line"] == 4
    assert "committed" in report["problems"][0]["message"]


def test_secrets_are_redacted_from_the_ledger(cli: Cli, lane_repo: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    secret = "sk-test-0123456789abcdefSECRET"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    tid = make_tasks(cli, 1)[0]
    cli("task", "note", tid, f"oops I pasted {secret} here", ok=True)
    for path in ledger_files(lane_repo):
        assert secret not in path.read_text()
    assert "[redacted]" in cli("log", "--json", ok=True).out
    # nor in the task's work log, nor anywhere on the state branch
    assert secret not in cli("task", "show", tid, ok=True).out
    assert "[redacted]" in cli("task", "show", tid, ok=True).out
    assert secret not in git(lane_repo, "log", "-p", "lanectl/state")


def test_log_filters_are_exact_with_escapes_and_prefixes(cli: Cli, lane_repo: Path) -> None:
    ws = open_workspace(lane_repo)
    with change(ws, 'zoë "the" builder', "builder", "x") as ch:
        ledger.record(ch, "tool.denied", result="blocked", reason='quote " and \\ backslash')
        ledger.record(ch, "tool.call", actor="zoë", data={"note": "ünïcode"})
        ledger.record(ch, "toolbox.opened", actor="zoë")
    out = cli("log", "--json", "--actor", 'zoë "the" builder', ok=True).out.splitlines()
    assert [json.loads(line)["kind"] for line in out] == ["tool.denied"]
    kinds = [
        json.loads(line)["kind"]
        for line in cli("log", "--json", "--kind", "tool", ok=True).out.splitlines()
    ]
    assert kinds == ["tool.denied", "tool.call"]  # a prefix of dotted parts, not of letters
    assert len(cli("log", "--json", "--actor", "zoë", ok=True).out.splitlines()) == 2
    assert cli("log", "--json", "--actor", "zo", ok=True).out == ""
