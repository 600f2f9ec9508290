"""Signed evidence (SPEC §6.4): real ssh-keygen keys, real verification, forgeries ignored.

Every record here is produced the way docs/records.md says a user or an agent
harness produces one; every forgery is ignored with a reason, never counted.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest

from conftest import Cli, git
from lanectl import evidence, keys, records, signers, state
from lanectl.errors import LaneError, Refused
from lanectl.workspace import Workspace, open_workspace

TASK = "T-7K2M9Q4D"
SHA = "a" * 64


def ws_of(repo: Path) -> Workspace:
    return open_workspace(repo)


def head_of(repo: Path) -> str:
    return git(repo, "rev-parse", "HEAD")


def review(head: str, **over: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "version": 1,
        "task": TASK,
        "head": head,
        "agent": "reviewer-gpt",
        "role": "reviewer",
        "family": "openai",
        "model": "gpt-5",
        "prompt_sha256": SHA,
        "diff_sha256": "b" * 64,
        "verdict": "pass",
        "coverage": {"files_reviewed": 3, "files_skipped": []},
        "findings": [
            {"id": "F1", "severity": "minor", "title": "naming", "path": "src/a.py", "line": 4}
        ],
        "ts": "2026-11-24T10:00:00Z",
    }
    record.update(over)
    return record


def check_result(head: str, **over: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "version": 1,
        "task": TASK,
        "head": head,
        "agent": "builder-claude",
        "role": "builder",
        "checks": [
            {"command": "pytest -q", "exit_code": 0, "duration_s": 1.5, "output_sha256": SHA}
        ],
        "passed": True,
        "ts": "2026-11-24T10:00:00Z",
    }
    record.update(over)
    return record


def write_by_hand(
    repo: Path, kind: str, record: dict[str, Any], key: Path | None, *, namespace: str = ""
) -> Path:
    """Write a record file where docs/records.md says and sign it with ssh-keygen itself."""
    ws = ws_of(repo)
    state.ensure(ws)
    rel = records.relative_path(
        kind, record["task"], record["head"], record["agent"], record["role"]
    )
    path = ws.state_dir / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(records.render(kind, record))
    if key is not None:
        subprocess.run(
            ["ssh-keygen", "-Y", "sign", "-n", namespace or "lanectl-evidence", "-f", str(key),
             str(path)],
            check=True, capture_output=True,
        )  # fmt: skip
        assert path.with_name(path.name + ".sig").exists()
    return path


def agent_key(repo: Path, agent: str) -> Path:
    found = keys.find_key(ws_of(repo).common_dir, agent)
    assert found is not None
    return found.private_path


def new_key(tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(path)], check=True
    )
    return path


def only_ignored(repo: Path, kind: str, head: str) -> evidence.Ignored:
    verified, ignored = evidence.collect(ws_of(repo), TASK, head, kind)
    assert verified == []
    assert len(ignored) == 1, ignored
    return ignored[0]


def events(repo: Path, kind: str) -> list[dict[str, Any]]:
    log = repo / ".git/lanectl/state/.lanes/log"
    lines = [ln for p in sorted(log.glob("*/*.jsonl")) for ln in p.read_text().splitlines()]
    return [e for e in map(json.loads, lines) if e["kind"] == kind]


# ---------------------------------------------------------------------------
# What counts


def test_a_review_written_and_signed_by_its_reviewer_verifies(lane_repo: Path) -> None:
    head = head_of(lane_repo)
    ws = ws_of(lane_repo)
    with state.change(ws, "lanectl", "lanectl", "review recorded", task=TASK) as change:
        result = evidence.write_signed_record(ws, change, "review", review(head), "reviewer-gpt")
    assert isinstance(result, evidence.Verified), result
    rel = f".lanes/reviews/{TASK}/{head}/reviewer-reviewer-gpt.yaml"
    assert result.path == rel
    assert result.principal == "agent:reviewer-gpt"
    verified, ignored = evidence.collect(ws, TASK, head, "review")
    assert ignored == []
    assert [v.record for v in verified] == [result.record]
    record = verified[0].record
    assert isinstance(record, records.Review)
    assert record.complete
    assert record.verdict == "pass"
    assert record.blockers == ()
    # committed on the state branch, with its signature
    listed = git(lane_repo, "ls-tree", "-r", "--name-only", "lanectl/state", ".lanes/reviews")
    assert listed.splitlines() == [rel, rel + ".sig"]
    (event,) = events(lane_repo, "review.recorded")
    assert event["actor"] == "reviewer-gpt"
    assert event["head"] == head
    assert event["data"]["verdict"] == "pass"
    assert "ignored" not in event["data"]


def test_a_check_result_signed_by_hand_as_documented_verifies(lane_repo: Path) -> None:
    head = head_of(lane_repo)
    write_by_hand(lane_repo, "check", check_result(head), agent_key(lane_repo, "builder-claude"))
    verified, ignored = evidence.collect(ws_of(lane_repo), TASK, head, "check")
    assert ignored == []
    (item,) = verified
    assert isinstance(item.record, records.CheckResult)
    assert item.record.passed


def test_verify_record_checks_principal_and_namespace(lane_repo: Path, tmp_path: Path) -> None:
    data = b"task: x\n"
    key = agent_key(lane_repo, "reviewer-gpt")
    signature = evidence.sign_record(data, key)
    allowed = lane_repo / ".lanes/allowed_signers"
    assert evidence.verify_record(data, signature, "agent:reviewer-gpt", allowed)
    assert not evidence.verify_record(data, signature, "agent:builder-claude", allowed)
    assert not evidence.verify_record(data + b"!", signature, "agent:reviewer-gpt", allowed)
    git_sig = subprocess.run(
        ["ssh-keygen", "-Y", "sign", "-n", "git", "-f", str(key)],
        input=data, capture_output=True, check=True,
    ).stdout  # fmt: skip
    assert not evidence.verify_record(data, git_sig, "agent:reviewer-gpt", allowed)


# ---------------------------------------------------------------------------
# What is ignored, and why


def test_an_unsigned_record_is_ignored(lane_repo: Path) -> None:
    head = head_of(lane_repo)
    write_by_hand(lane_repo, "review", review(head), None)
    item = only_ignored(lane_repo, "review", head)
    assert item.code == "unsigned"
    assert item.reason == "unsigned: reviewer-reviewer-gpt.yaml.sig is missing"


def test_a_key_not_in_the_base_allowed_signers_is_ignored(lane_repo: Path, tmp_path: Path) -> None:
    head = head_of(lane_repo)
    write_by_hand(lane_repo, "review", review(head), new_key(tmp_path, "stranger"))
    item = only_ignored(lane_repo, "review", head)
    assert item.code == "unknown_signer"
    assert "not in main's .lanes/allowed_signers" in item.reason


def test_allowed_signers_edited_in_the_work_tree_or_on_a_task_branch_does_not_count(
    lane_repo: Path, tmp_path: Path
) -> None:
    head = head_of(lane_repo)
    forged = new_key(tmp_path, "forged")
    write_by_hand(lane_repo, "review", review(head), forged)
    public = forged.with_suffix(".pub").read_text().split()
    line = keys.allowed_signers_line("reviewer-gpt", f"{public[0]} {public[1]}")
    signers_file = lane_repo / ".lanes/allowed_signers"
    original = signers_file.read_text()
    # 1. only in the work tree
    signers_file.write_text(original + line + "\n")
    assert only_ignored(lane_repo, "review", head).code == "unknown_signer"
    # 2. committed on a task branch, which is even checked out
    git(lane_repo, "checkout", "-q", "-b", f"lanes/{TASK}")
    git(lane_repo, "commit", "-q", "-am", "trust me")
    assert only_ignored(lane_repo, "review", head).code == "unknown_signer"
    # 3. a tag named like the base branch, pointing at the forged file
    git(lane_repo, "tag", "main", f"lanes/{TASK}")
    git(lane_repo, "checkout", "-q", "main")
    assert only_ignored(lane_repo, "review", head).code == "unknown_signer"
    git(lane_repo, "tag", "-d", "main")
    # 4. a replace ref swapping main's commit for the task branch's
    main = git(lane_repo, "rev-parse", "refs/heads/main")
    git(lane_repo, "replace", main, f"lanes/{TASK}")
    assert git(lane_repo, "show", "main:.lanes/allowed_signers").endswith(line)
    assert only_ignored(lane_repo, "review", head).code == "unknown_signer"
    git(lane_repo, "replace", "-d", main)
    # control: merged into the base branch, the same key counts
    git(lane_repo, "merge", "-q", "--ff-only", f"lanes/{TASK}")
    verified, ignored = evidence.collect(ws_of(lane_repo), TASK, head, "review")
    assert ignored == []
    assert len(verified) == 1


def test_a_record_signed_by_another_agent_than_it_names_is_ignored(lane_repo: Path) -> None:
    head = head_of(lane_repo)
    write_by_hand(lane_repo, "review", review(head), agent_key(lane_repo, "security-gemini"))
    item = only_ignored(lane_repo, "review", head)
    assert item.code == "wrong_signer"
    assert item.reason == (
        "signed by agent:security-gemini, not by agent:reviewer-gpt whom the record names"
    )


def test_a_review_by_the_builder_is_ignored_and_refused(lane_repo: Path) -> None:
    head = head_of(lane_repo)
    builder = agent_key(lane_repo, "builder-claude")
    as_reviewer = review(head, agent="builder-claude")
    write_by_hand(lane_repo, "review", as_reviewer, builder)
    item = only_ignored(lane_repo, "review", head)
    assert item.code == "role_mismatch"
    assert "main's config makes builder-claude a builder" in item.reason
    # A work-tree config that makes the builder a reviewer changes nothing.
    config = lane_repo / ".lanes/config.yaml"
    config.write_text(config.read_text().replace("role: builder,", "role: reviewer,"))
    assert only_ignored(lane_repo, "review", head).code == "role_mismatch"
    config.write_text(config.read_text().replace("role: reviewer, provider: anthropic",
                                                 "role: builder, provider: anthropic"))  # fmt: skip
    # Through lanectl it is refused outright, and the refusal is recorded.
    ws = ws_of(lane_repo)
    with (
        pytest.raises(Refused, match="builder-claude is a builder and cannot produce a review"),
        state.change(ws, "lanectl", "lanectl", "attempt", task=TASK) as change,
    ):
        evidence.write_signed_record(
            ws, change, "review", review(head, agent="builder-claude", role="reviewer"),
            "builder-claude",
        )  # fmt: skip
    (event,) = events(lane_repo, "tool.denied")
    assert event["actor"] == "builder-claude"
    assert event["result"] == "blocked"
    assert event["attempted"] == ["write a review record"]


def test_a_check_result_by_a_reviewer_is_ignored(lane_repo: Path) -> None:
    head = head_of(lane_repo)
    record = check_result(head, agent="reviewer-gpt", role="reviewer")
    write_by_hand(lane_repo, "check", record, agent_key(lane_repo, "reviewer-gpt"))
    item = only_ignored(lane_repo, "check", head)
    assert item.code == "role_not_allowed"
    assert item.reason == "role not allowed: a reviewer cannot produce a check"


def test_a_record_naming_another_head_is_ignored(lane_repo: Path) -> None:
    head = head_of(lane_repo)
    other = "c" * 40
    path = write_by_hand(lane_repo, "review", review(other), agent_key(lane_repo, "reviewer-gpt"))
    # moved (with its valid signature) under the head being judged
    target = path.parents[1] / head
    target.mkdir()
    for name in (path.name, path.name + ".sig"):
        (path.parent / name).rename(target / name)
    item = only_ignored(lane_repo, "review", head)
    assert item.code == "wrong_head"
    assert item.reason == f"wrong head: names {other[:12]}, judging {head[:12]}"


def test_a_signature_in_the_git_namespace_is_not_evidence(lane_repo: Path) -> None:
    head = head_of(lane_repo)
    key = agent_key(lane_repo, "reviewer-gpt")
    write_by_hand(lane_repo, "review", review(head), key, namespace="git")
    item = only_ignored(lane_repo, "review", head)
    assert item.code == "bad_signature"
    assert "namespace" in item.reason


def test_a_key_limited_to_git_cannot_sign_evidence(lane_repo: Path) -> None:
    head = head_of(lane_repo)
    signers_file = lane_repo / ".lanes/allowed_signers"
    signers_file.write_text(
        signers_file.read_text().replace(
            'agent:reviewer-gpt namespaces="lanectl-evidence,git"',
            'agent:reviewer-gpt namespaces="git"',
        )
    )
    git(lane_repo, "commit", "-q", "-am", "reviewer may only sign commits")
    write_by_hand(lane_repo, "review", review(head), agent_key(lane_repo, "reviewer-gpt"))
    item = only_ignored(lane_repo, "review", head)
    assert item.code == "not_allowed"
    assert "not permitted" in item.reason


def test_a_tampered_or_malformed_record_is_ignored(lane_repo: Path) -> None:
    head = head_of(lane_repo)
    path = write_by_hand(lane_repo, "review", review(head), agent_key(lane_repo, "reviewer-gpt"))
    path.write_text(path.read_text().replace("verdict: pass", "verdict: veto"))
    assert only_ignored(lane_repo, "review", head).code == "bad_signature"
    extra = review(head)
    extra["approved"] = True
    path.write_text(json.dumps(extra))  # JSON is YAML; the unknown key is what matters
    subprocess.run(
        ["ssh-keygen", "-Y", "sign", "-n", "lanectl-evidence",
         "-f", str(agent_key(lane_repo, "reviewer-gpt")), str(path)],
        check=True, capture_output=True, input=b"y\n",
    )  # fmt: skip
    item = only_ignored(lane_repo, "review", head)
    assert item.code == "malformed"
    assert "approved: unknown key" in item.reason


def test_a_broken_base_allowed_signers_ignores_everything_and_says_where(
    lane_repo: Path,
) -> None:
    head = head_of(lane_repo)
    write_by_hand(lane_repo, "review", review(head), agent_key(lane_repo, "reviewer-gpt"))
    signers_file = lane_repo / ".lanes/allowed_signers"
    signers_file.write_text(signers_file.read_text() + "* ssh-ed25519 AAAA\n")
    git(lane_repo, "commit", "-q", "-am", "oops")
    item = only_ignored(lane_repo, "review", head)
    assert item.code == "no_trust"
    assert ".lanes/allowed_signers:12: principal '*' is not supported" in item.reason


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("alice@x", "expected: principals [options] keytype base64-key [comment]"),
        ("*@x ssh-ed25519 AAAA", "principal '*@x' is not supported"),
        ('a@x cert-authority,namespaces="git" ssh-ed25519 AAAA', "cert-authority lines"),
        ('a@x nope="1" ssh-ed25519 AAAA', "unknown option 'nope'"),
        ("a@x ssh-ed25519 !!!", "the key is not valid base64"),
        ("a@x ssh-ed25519 AAAAC3NzaC1yc2EAAAADAQAB", "the key data is not a ssh-ed25519 key"),
        ("agent:Bad ssh-ed25519 AAAA", "'agent:Bad' does not name a valid agent"),
    ],
)
def test_allowed_signers_errors_name_file_and_line(line: str, message: str) -> None:
    with pytest.raises(LaneError) as caught:
        signers.parse(f"# comment\n\n{line}\n")
    assert caught.value.where == ".lanes/allowed_signers:3"
    assert message in caught.value.message


def test_signer_lines_parse_into_principals_options_and_key(lane_repo: Path) -> None:
    parsed = signers.parse((lane_repo / ".lanes/allowed_signers").read_text())
    assert [s.principals for s in parsed] == [
        ("agent:builder-claude",), ("agent:reviewer-gpt",), ("agent:security-gemini",)
    ]  # fmt: skip
    assert parsed[0].namespaces == ("lanectl-evidence", "git")
    assert parsed[0].keytype == "ssh-ed25519"
    assert parsed[0].allows("lanectl-evidence")
    assert signers.agent_of("agent:reviewer-gpt") == "reviewer-gpt"
    tabbed = signers.parse(f"a@x\t{parsed[0].keytype}\t{parsed[0].key}\tcomment here\n")
    assert tabbed[0].principals == ("a@x",)
    assert tabbed[0].comment == "comment here"
    humans = (("alice", "alice@example.com"),)
    assert signers.human_of("Alice@Example.com", humans) == "alice"
    assert signers.human_of("agent:alice", humans) is None


# ---------------------------------------------------------------------------
# human add / agent add


def test_human_and_agent_add_keep_comments_and_write_lines_ssh_keygen_accepts(
    cli: Cli, lane_repo: Path, tmp_path: Path
) -> None:
    config = lane_repo / ".lanes/config.yaml"
    before = config.read_text().splitlines()
    key = new_key(tmp_path, "alice")
    result = cli("human", "add", "alice", "--email", "alice@example.com",
                 "--key", str(key) + ".pub", ok=True)  # fmt: skip
    assert "bootstrap" in result.out
    result = cli("agent", "add", "designer-gpt", "--role", "designer", "--provider", "openai",
                 "--model", "gpt-5-mini", "--family", "openai", "--budget", "openai-main",
                 ok=True)  # fmt: skip
    after = config.read_text().splitlines()
    # every original line is still there, in order, but `humans: []` became a block
    assert [ln for ln in after if ln in before] == [ln for ln in before if ln != "humans: []"]
    added = [ln for ln in after if ln not in before]
    assert added == [
        "humans:",
        "  - {id: alice, email: alice@example.com}",
        "  designer-gpt: {role: designer, provider: openai, model: gpt-5-mini, family: openai, "
        "budget: openai-main}",
    ]
    assert "humans: []" in before
    allowed = lane_repo / ".lanes/allowed_signers"
    data = tmp_path / "data"
    data.write_bytes(b"approve\n")
    agent_private = keys.private_key_path(ws_of(lane_repo).common_dir, "designer-gpt")
    for signer, principal, namespace in [
        (key, "alice@example.com", "git"),
        (key, "alice@example.com", "lanectl-evidence"),
        (agent_private, "agent:designer-gpt", "lanectl-evidence"),
    ]:
        subprocess.run(["ssh-keygen", "-Y", "sign", "-n", namespace, "-f", str(signer), str(data)],
                       check=True, capture_output=True, input=b"y\n")  # fmt: skip
        verify = subprocess.run(
            ["ssh-keygen", "-Y", "verify", "-f", str(allowed), "-I", principal, "-n", namespace,
             "-s", str(data) + ".sig"],
            input=data.read_bytes(), capture_output=True,
        )  # fmt: skip
        assert verify.returncode == 0, verify.stderr
        os.unlink(str(data) + ".sig")
    assert [e["data"]["bootstrap"] for e in events(lane_repo, "policy.human_added")] == [True]
    (agent_event,) = events(lane_repo, "policy.agent_added")
    assert agent_event["data"]["principal"] == "agent:designer-gpt"
    # once a human is on the base branch, a second one is a policy change
    git(lane_repo, "commit", "-q", "-am", "register alice")
    bob = new_key(tmp_path, "bob")
    result = cli("human", "add", "bob", "--email", "bob@example.com",
                 "--key", str(bob) + ".pub", ok=True)  # fmt: skip
    assert "policy change" in result.out
    assert "high-tier" in result.out
    assert events(lane_repo, "policy.human_added")[-1]["data"]["bootstrap"] is False
    # again: nothing changes
    again = cli("human", "add", "bob", "--email", "bob@example.com", "--key", str(bob) + ".pub")
    assert again.code == 0
    assert "already registered" in again.out


def test_human_add_refuses_a_private_key_without_echoing_it(
    cli: Cli, lane_repo: Path, tmp_path: Path
) -> None:
    key = new_key(tmp_path, "alice")
    result = cli("human", "add", "alice", "--email", "alice@example.com", "--key", str(key))
    assert result.code == 1
    assert "this is a PRIVATE key; pass the public half (the .pub file)" in result.err
    body = key.read_text().splitlines()[1]
    assert body not in result.out + result.err
    assert "alice" not in (lane_repo / ".lanes/config.yaml").read_text()


def test_agent_add_errors_are_one_line_and_actionable(cli: Cli) -> None:
    bad = cli("agent", "add", "x", "--role", "boss", "--provider", "openai", "--model", "m",
              "--family", "openai")  # fmt: skip
    assert bad.code == 1
    assert (
        bad.err
        == "lanectl: --role must be one of builder, reviewer, security, designer (got 'boss')\n"
    )
    bad = cli("agent", "add", "x", "--role", "builder", "--provider", "openai", "--model", "m",
              "--family", "openai", "--budget", "nope")  # fmt: skip
    assert "unknown budget 'nope' (budgets: anthropic-main, google-main, openai-main)" in bad.err
    bad = cli("agent", "add", "../x", "--role", "builder", "--provider", "openai", "--model", "m",
              "--family", "openai")  # fmt: skip
    assert "'../x' is not a valid agent name" in bad.err


def test_list_edits_handle_flow_and_block_styles() -> None:
    from lanectl import people, yamlio

    for text, expected_tail in [
        ("version: 1\nhumans: [{id: a, email: a@x}]  # people\n",
         "humans:  # people\n  - {id: a, email: a@x}\n  - {id: b, email: b@x}\n"),
        ("version: 1\nhumans:\n- {id: a, email: a@x}\n# end\n",
         "humans:\n- {id: a, email: a@x}\n- {id: b, email: b@x}\n# end\n"),
        ("version: 1\n", "version: 1\nhumans:\n  - {id: b, email: b@x}\n"),
    ]:  # fmt: skip
        raw = yamlio.load(text, "c")
        assert people.append_human(text, raw, {"id": "b", "email": "b@x"}).endswith(expected_tail)


# ---------------------------------------------------------------------------
# Keys


def test_agent_keys_are_private_and_outside_the_repository(lane_repo: Path) -> None:
    ws = ws_of(lane_repo)
    directory = keys.key_dir(ws.common_dir)
    assert directory.parent.parent == Path(os.environ["LANECTL_HOME"]).resolve()
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    for agent in ("builder-claude", "reviewer-gpt", "security-gemini"):
        private = keys.private_key_path(ws.common_dir, agent)
        assert stat.S_IMODE(private.stat().st_mode) == 0o600
        assert lane_repo not in private.parents
        line = (private.parent / f"{agent}.pub").read_text()
        assert line.startswith("ssh-ed25519 ")
        assert line.strip().endswith(f"agent:{agent}")
    again = keys.ensure_key(ws.common_dir, "reviewer-gpt")
    assert again.created is False


def test_keys_are_refused_inside_the_repository(
    lane_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LANECTL_HOME", str(lane_repo / ".git" / "keys-here"))
    with pytest.raises(LaneError, match="agent keys would be stored inside the repository"):
        keys.ensure_key(ws_of(lane_repo).common_dir, "reviewer-gpt")


def _everything_in(repo: Path) -> str:
    """Every file under ``repo`` and every git object's content, decompressed."""
    chunks = [p.read_bytes().decode("latin-1") for p in repo.rglob("*") if p.is_file()]
    objects = subprocess.run(
        ["git", "cat-file", "--batch-all-objects", "--batch"],
        cwd=repo, capture_output=True, check=True,
    ).stdout  # fmt: skip
    return "\n".join([*chunks, objects.decode("latin-1")])


def test_private_keys_never_reach_the_repository_or_the_output(
    cli: Cli, lane_repo: Path, tmp_path: Path
) -> None:
    head = head_of(lane_repo)
    outputs = [
        cli("agent", "add", "designer-gpt", "--role", "designer", "--provider", "openai",
            "--model", "gpt-5-mini", "--family", "openai", ok=True),
        cli("--json", "agent", "add", "designer-gpt", "--role", "designer", "--provider",
            "openai", "--model", "gpt-5-mini", "--family", "openai", ok=True),
        cli("init", ok=True),
    ]  # fmt: skip
    ws = ws_of(lane_repo)
    with state.change(ws, "lanectl", "lanectl", "review recorded", task=TASK) as change:
        evidence.write_signed_record(ws, change, "review", review(head), "reviewer-gpt")
    text = _everything_in(lane_repo) + "".join(o.out + o.err for o in outputs)
    for agent in ("builder-claude", "reviewer-gpt", "security-gemini", "designer-gpt"):
        private = keys.private_key_path(ws.common_dir, agent).read_text().splitlines()[1:-1]
        for line in private:
            assert line not in text, f"a line of {agent}'s private key leaked"


def test_the_documented_examples_are_valid_records() -> None:
    import re

    from lanectl import yamlio

    text = (Path(__file__).resolve().parents[1] / "docs/records.md").read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", text, re.DOTALL)
    review_doc, check_doc, waiver_doc = (yamlio.load(b, "docs/records.md") for b in blocks)
    parsed = records.parse("review", review_doc, "docs")
    assert isinstance(parsed, records.Review)
    assert parsed.blockers[0].title == "retries never stop"
    assert records.parse("check", check_doc, "docs").head == review_doc["head"]
    assert records.render("check", check_doc).startswith(b"version: 1\ntask: T-7K2M9Q4D\n")
    from lanectl import waivers

    assert waivers.parse(waiver_doc, "docs").roles == ("security",)
