"""gh and lanectl itself: merging, approving and the forge token."""

from __future__ import annotations

from collections.abc import Callable

from lanectl.cmdscan.base import (
    CHANGE_POLICY,
    CREDENTIAL,
    MERGE,
    Call,
    Scan,
    has_option,
    positionals,
)


def gh(call: Call, out: Scan, depth: int) -> None:
    facts = out.facts
    tokens = ("GH_TOKEN", "GITHUB_TOKEN")
    if not any(t in facts.own_credentials for t in tokens):
        out.red(
            CREDENTIAL,
            call.shown,
            "`gh` authenticates with the forge token (GH_TOKEN, "
            f"GITHUB_TOKEN or ~/.config/gh), which is not {facts.actor}'s; agents reach "
            "the forge only through lanectl",
        )
    words = positionals(
        call.args,
        {"-R", "--repo", "-X", "--method", "-b", "--body", "-F", "--body-file", "-t", "--title"},
    )
    group = words[0].text if words else ""
    verb = words[1].text if len(words) > 1 else ""
    how = "only a human merges or approves: with `lanectl approve` and `lanectl merge`, which "
    how += "re-check the gate and keep the signed approval in history"
    if group == "pr" and verb == "merge":
        out.red(MERGE, call.shown, how, "merge a pull request")
    elif group == "pr" and verb == "review":
        if has_option(call.args, "-a", "--approve"):
            out.red(MERGE, call.shown, how, "approve a pull request")
        elif has_option(call.args, "-r", "--request-changes"):
            out.red(
                MERGE,
                call.shown,
                "agents post COMMENT reviews only; approving and requesting changes is for humans",
                "request changes on a pull request",
            )
    elif group == "auth" and (verb == "token" or has_option(call.args, "-t", "--show-token")):
        out.red(
            CREDENTIAL,
            call.shown,
            "`gh auth token` prints the forge token; it is never printed or handed to an agent",
        )
    elif group == "secret":
        out.red(CREDENTIAL, call.shown, "repository secrets belong to humans and the pipeline")
    elif group == "api" and (
        has_option(call.args, "-f", "-F", "--field", "--raw-field", "--input")
        or any(w.text.upper() in ("POST", "PUT", "PATCH", "DELETE") for w in call.args)
    ):
        out.doubt(call.shown, "`gh api` requests that change the forge")


def lanectl(call: Call, out: Scan, depth: int) -> None:
    words = positionals(call.args, {"--repo"})
    sub = words[0].text if words else ""
    verb = words[1].text if len(words) > 1 else ""
    if sub in ("approve", "merge") and not out.facts.may_approve:
        out.red(
            MERGE,
            call.shown,
            "only a human approves (`lanectl approve`, signed with their "
            "own key) and merges (`lanectl merge`)",
            f"{sub} a task",
        )
    elif (sub in ("human", "agent") and verb in ("add", "remove", "rm", "key")) or sub == "init":
        out.red(
            CHANGE_POLICY,
            call.shown,
            "humans, agents and keys are policy; only a human "
            "changes them, through a high-tier task",
        )


DETECTORS: dict[str, Callable[[Call, Scan, int], None]] = {"gh": gh, "lanectl": lanectl}
