"""Command analysis for the red rules (SPEC §5.2): argv in, findings out. Pure.

:func:`scan` looks through wrappers (``sh -c``, ``bash -lc``, ``env X=… cmd``,
``sudo``, ``nohup``, ``timeout N``, ``nice``, ``xargs``, ``command``, ``exec``,
``find -exec``, …) and shell text (pipes, ``;``, ``&&``, ``||``, ``$(…)``,
backticks) down to each simple command, and asks the detector for that
command. Anything it cannot see through for certain (``eval``, a command name
built at run time, here-docs, code piped into a shell) is a finding too: when
in doubt, deny. ADR 0008 records what this analysis can and cannot see.

The modules, one job each:

* :mod:`.shell` reads shell text into simple commands (quotes, expansions);
* :mod:`.walk` walks argv and shell text down to each command;
* :mod:`.wrappers` looks through ``sh -c``, ``env``, ``sudo``, ``xargs``, …;
* :mod:`.paths` judges path arguments and redirections;
* :mod:`.gitcmd`, :mod:`.refs` judge git; :mod:`.forge` gh and lanectl;
* :mod:`.hosts` remote hosts, clusters, clouds and the network;
* :mod:`.creds` secret stores and environment dumps; :mod:`.interp` inline code.
"""

from __future__ import annotations

from lanectl.cmdscan.base import (
    BRANCH,
    CHANGE_POLICY,
    CREDENTIAL,
    DOUBT,
    LABELS,
    MERGE,
    NETWORK,
    OUTSIDE_PIPELINE,
    OUTSIDE_WORKTREE,
    SECRET_FILE,
    Analysis,
    Finding,
    PathFacts,
    ScanFacts,
    branch_rule_reason,
    classify,
    credential_store,
    protected_ref,
    secret_name,
)
from lanectl.cmdscan.walk import analyse, scan

__all__ = [
    "BRANCH",
    "CHANGE_POLICY",
    "CREDENTIAL",
    "DOUBT",
    "LABELS",
    "MERGE",
    "NETWORK",
    "OUTSIDE_PIPELINE",
    "OUTSIDE_WORKTREE",
    "SECRET_FILE",
    "Analysis",
    "Finding",
    "PathFacts",
    "ScanFacts",
    "analyse",
    "branch_rule_reason",
    "classify",
    "credential_store",
    "protected_ref",
    "scan",
    "secret_name",
]
