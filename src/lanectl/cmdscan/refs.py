"""git commands that change refs: push, branch, update-ref, checkout, merge.

An agent pushes and updates only its own task branch; the base branch and
other tasks' branches are protected, and only a human merges (SPEC §5.2).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from lanectl.cmdscan.base import (
    BRANCH,
    MERGE,
    OUTSIDE_PIPELINE,
    Call,
    Scan,
    branch_rule_reason,
    has_option,
    positionals,
    protected_ref,
    remote_host,
)
from lanectl.cmdscan.shell import Word


def protected(ref: str, out: Scan, *, any_branch: bool = True) -> str | None:
    """What ``ref`` is when the actor may not change it, else None."""
    return protected_ref(ref, out.facts, any_branch=any_branch)


def branch_reason(out: Scan) -> str:
    return branch_rule_reason(out.facts)


def push(call: Call, rest: Sequence[Word], out: Scan, depth: int) -> None:
    if has_option(rest, "--receive-pack", "--exec"):
        out.doubt(call.shown, "git push --receive-pack/--exec (it runs a program on the remote)")
    force = has_option(rest, "-f", "--force", "--force-with-lease", "--force-if-includes")
    delete = has_option(rest, "-d", "--delete")
    every = has_option(rest, "--all", "--branches", "--mirror")
    if every:
        out.red(BRANCH, call.shown, branch_reason(out), "push every branch, the base included")
    if has_option(rest, "--tags", "--follow-tags"):
        out.red(
            OUTSIDE_PIPELINE,
            call.shown,
            "a pushed tag can start a release; tags are made by humans",
            "push tags",
        )
    repo_opt = [w.text.split("=", 1)[1] for w in rest if w.text.startswith("--repo=")]
    found = positionals(rest, {"-o", "--push-option", "--repo"})
    repo = found[0].text if found else (repo_opt[0] if repo_opt else None)
    specs = found[1:]
    if repo is None:
        out.doubt(
            call.shown,
            "git push without a remote and a branch: name both (git push origin lanes/<task>)",
        )
        return
    if repo not in out.facts.remotes:
        host = remote_host(repo) or repo
        out.host(host)
        out.red(
            OUTSIDE_PIPELINE,
            call.shown,
            f"{repo} is not a configured remote of this "
            f"repository ({', '.join(sorted(out.facts.remotes)) or 'none'}); work leaves "
            "only through a configured remote",
            "push to a remote that is not configured",
        )
    if not specs and not every:
        out.doubt(
            call.shown,
            "git push without naming the branch (it pushes whatever is "
            "checked out): name it, git push origin lanes/<task>",
        )
    for spec in specs:
        text = spec.text
        plus = text.startswith("+")
        src, colon, dst = text.lstrip("+").partition(":")
        deleting = delete or (colon and not src)
        target = dst if colon and dst else src
        if "*" in target:
            out.red(BRANCH, call.shown, branch_reason(out), "push many branches at once")
            continue
        if not target or target in ("HEAD", "@") or re.search(r"[~^]|@\{", target):
            out.doubt(call.shown, f"cannot tell which branch `{text}` pushes to; name it")
            continue
        if target.startswith("refs/tags/"):
            out.red(
                OUTSIDE_PIPELINE,
                call.shown,
                "a pushed tag can start a release; tags are made by humans",
                "push tags",
            )
            continue
        what = protected(target, out)
        if what is None:
            continue
        verb = "delete" if deleting else "force-push" if force or plus else "push to"
        out.red(BRANCH, call.shown, branch_reason(out), f"{verb} {what}")


def branch(call: Call, rest: Sequence[Word], out: Scan, depth: int) -> None:
    names = positionals(
        rest,
        {
            "-u",
            "--set-upstream-to",
            "--contains",
            "--merged",
            "--no-merged",
            "--points-at",
            "--sort",
            "--format",
        },
    )
    if has_option(rest, "-d", "-D", "--delete"):
        verb, targets = "delete", names
    elif has_option(rest, "-m", "-M", "--move", "-c", "-C", "--copy"):
        verb, targets = "rename or overwrite", names[-1:] if len(names) > 1 else names
    elif has_option(rest, "-f", "--force"):
        verb, targets = "force-move", names[:1]
    elif has_option(
        rest,
        "-l",
        "--list",
        "-a",
        "-r",
        "--show-current",
        "--unset-upstream",
        "--edit-description",
        "-u",
        "--set-upstream-to",
    ):
        return
    else:
        verb, targets = "create", names[:1]
    for name in targets:
        what = protected(name.text, out, any_branch=verb != "create")
        if what is not None and (verb != "create" or name.text == out.facts.base_branch):
            out.red(BRANCH, call.shown, branch_reason(out), f"{verb} {what}")


def update_ref(call: Call, rest: Sequence[Word], out: Scan, depth: int) -> None:
    if has_option(rest, "--stdin"):
        out.doubt(call.shown, "git update-ref --stdin (the refs it changes arrive at run time)")
        return
    names = positionals(rest, {"-m"})
    if not names:
        return
    ref = names[0].text
    if ref == "HEAD":
        out.doubt(call.shown, "git update-ref HEAD (which branch it moves depends on the checkout)")
        return
    what = protected(ref, out)
    if what is not None:
        verb = "delete" if has_option(rest, "-d") else "move"
        out.red(BRANCH, call.shown, branch_reason(out), f"{verb} {what}")


def checkout(call: Call, rest: Sequence[Word], out: Scan, depth: int) -> None:
    if any(w.text == "--" for w in rest) or has_option(rest, "--detach", "--orphan"):
        return
    create = [
        rest[i + 1].text
        for i, w in enumerate(rest[:-1])
        if w.text in ("-b", "-B", "-c", "-C", "--create", "--force-create")
    ]
    names = positionals(rest, {"-b", "-B", "-c", "-C", "--create", "--force-create"})
    targets = create or ([names[0].text] if len(names) == 1 else [])
    for name in targets:
        what = protected(name, out, any_branch=False)
        if what is not None:
            out.red(
                BRANCH,
                call.shown,
                branch_reason(out) + "; commits on a checked-out base "
                "branch change it for every worktree of the repository",
                f"check out {what}",
            )


def worktree(call: Call, rest: Sequence[Word], out: Scan, depth: int) -> None:
    found = positionals(rest, {"-b", "-B", "--reason"})
    if found and found[0].text == "add":
        checkout(call, [w for w in rest if w.text != "add"][-1:], out, depth)


def symbolic_ref(call: Call, rest: Sequence[Word], out: Scan, depth: int) -> None:
    names = positionals(rest, {"-m"})
    if len(names) >= 2:
        checkout(call, names[1:2], out, depth)


def merge(call: Call, rest: Sequence[Word], out: Scan, depth: int) -> None:
    if has_option(rest, "--abort", "--continue", "--quit", "--skip"):
        return
    names = positionals(
        rest, {"-m", "-F", "--file", "-s", "--strategy", "-X", "--strategy-option", "--into-name"}
    )
    for name in names:
        if not is_base(name.text, out):
            out.red(
                MERGE,
                call.shown,
                "only a human merges, with `lanectl merge` after the gate "
                "and a signed approval; to bring your task branch up to date, merge or "
                f"rebase the base branch ({out.facts.base_branch})",
                "merge another branch",
            )


def is_base(ref: str, out: Scan) -> bool:
    base = out.facts.base_branch
    candidates = {base, f"refs/heads/{base}", "FETCH_HEAD", *out.facts.own_branches}
    candidates |= {f"{remote}/{base}" for remote in out.facts.remotes}
    candidates |= {f"refs/remotes/{remote}/{base}" for remote in out.facts.remotes}
    return ref in candidates
