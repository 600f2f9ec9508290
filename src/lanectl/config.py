"""``.lanes/config.yaml``: the schema, and the checks that name file, key path and line.

Two ways in: :func:`read_raw` is the fast path every command takes (plain YAML,
a few keys with defaults); :func:`validate` runs the full pydantic schema and
is what ``lanectl check`` reports from (ADR 0002 explains pydantic).
"""

from __future__ import annotations

import contextlib
import difflib
import json
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from lanectl import yamlio
from lanectl.errors import LaneError

if TYPE_CHECKING:
    from pydantic import BaseModel

CONFIG_PATH = ".lanes/config.yaml"
DEFAULT_STATE_BRANCH = "lanectl/state"
ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
# What a `command` agent's argv template may name (docs/agents.md).
COMMAND_PLACEHOLDERS = ("prompt_file", "worktree", "task", "model")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
# Literal credentials people paste by mistake; the value is never echoed back.
SECRET_SHAPES = re.compile(
    r"^(sk-[A-Za-z0-9_-]{16,}|sk-ant-[A-Za-z0-9_-]{16,}|gh[pousr]_[A-Za-z0-9]{20,}"
    r"|github_pat_[A-Za-z0-9_]{20,}|AKIA[0-9A-Z]{16}|xox[abp]-[A-Za-z0-9-]{10,}"
    r"|AIza[0-9A-Za-z_-]{30,}|-----BEGIN [A-Z ]*PRIVATE KEY-----.*)$",
    re.DOTALL,
)


@dataclass(frozen=True)
class Settings:
    """The handful of settings every command needs, read without pydantic."""

    base_branch: str
    state_branch: str
    commit: bool
    humans: tuple[tuple[str, str], ...]  # (id, email)


@dataclass(frozen=True)
class Problem:
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


def read_raw(root: Path, cache_dir: Path | None = None) -> dict[str, Any] | None:
    """The work tree's config as plain data (None if there is none).

    With ``cache_dir``, the parsed config is kept as JSON keyed by the file's
    stat, so a warm command does not pay for importing and running PyYAML.
    Only configs last changed over two seconds ago are cached (a file edited
    twice within one clock tick keeps its stamp).
    """
    path = root / CONFIG_PATH
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    stamp = [st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino]
    cache_file = cache_dir / "config.json" if cache_dir is not None else None
    if cache_file is not None:
        try:
            cached = json.loads(cache_file.read_bytes())
            if cached.get("stamp") == stamp and isinstance(cached.get("config"), dict):
                return dict(cached["config"])
        except (OSError, ValueError, AttributeError):
            pass
    raw = _parse_raw(path.read_bytes())
    settled = max(stamp[0], stamp[1]) < time.time_ns() - 2_000_000_000
    if cache_file is not None and settled:
        from lanectl.index import save_json

        # A config that is not JSON-able (binary scalars, say) is just not cached.
        with contextlib.suppress(TypeError, ValueError):
            save_json(cache_file, {"stamp": stamp, "config": raw})
    return raw


def _parse_raw(data: bytes) -> dict[str, Any]:
    text = yamlio.decode(data, CONFIG_PATH)
    raw = yamlio.load(text, CONFIG_PATH)
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise LaneError("the config must be a mapping of keys", where=f"{CONFIG_PATH}:1")
    return raw


def settings(raw: dict[str, Any]) -> Settings:
    def text(value: Any, default: str) -> str:
        return value if isinstance(value, str) and value else default

    state = raw.get("state") if isinstance(raw.get("state"), dict) else {}
    assert isinstance(state, dict)
    humans: list[tuple[str, str]] = []
    for human in raw.get("humans") or []:
        if isinstance(human, dict) and isinstance(human.get("id"), str):
            humans.append((human["id"], str(human.get("email") or "")))
    return Settings(
        base_branch=text(raw.get("base_branch"), "main"),
        state_branch=text(state.get("branch"), DEFAULT_STATE_BRANCH),
        commit=state.get("commit", True) is not False,
        humans=tuple(humans),
    )


# ---------------------------------------------------------------------------
# The full schema (imported lazily: pydantic costs ~50 ms to import)


def _models() -> type[BaseModel]:
    from pydantic import BaseModel, ConfigDict, Field, field_validator

    # Every field has a description: docs/config.md is generated from them (ADR 0030).
    class Strict(BaseModel):
        model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    Tier = Literal["low", "medium", "high"]

    def env_name(value: str | None) -> str | None:
        """the NAME of an environment variable (`A-Z`, `0-9`, `_`), never the secret"""
        if value is not None and not ENV_NAME.match(value):
            raise ValueError("must be the NAME of an environment variable (e.g. OPENAI_API_KEY)")
        return value

    def argv_template(value: list[str] | None) -> list[str] | None:
        """an argv list; the first item names the program; placeholders only
        `{prompt_file}`, `{worktree}`, `{task}`, `{model}`"""
        for index, word in enumerate(value or []):
            names = _PLACEHOLDER.findall(word)
            unknown = [n for n in names if n not in COMMAND_PLACEHOLDERS]
            if unknown:
                raise ValueError(
                    f"item {index}: unknown placeholder {{{unknown[0]}}} "
                    f"(known: {', '.join('{' + n + '}' for n in COMMAND_PLACEHOLDERS)})"
                )
            if index == 0 and (names or not word.strip()):
                raise ValueError("the first item must name the program, without placeholders")
        return value

    class Forge(Strict):
        """Where pull requests, statuses and merges happen (ADR 0016)."""

        kind: Literal["local", "github"] = Field(
            default="local",
            description="`local`: offline, lanectl merges in this repository; `github`: "
            "pull requests, the `lanectl/gate` status and merges through the GitHub API.",
        )
        repo: str | None = Field(
            default=None,
            pattern=r"^[\w.-]+/[\w.-]+$",
            description="OWNER/NAME of the GitHub repository (kind `github`).",
        )
        token_env: str | None = Field(
            default=None,
            description="The environment variable holding the forge token "
            "(unset: `GITHUB_TOKEN`). Agents never get it.",
        )
        api_url: str | None = Field(
            default=None,
            description="The GitHub API base URL, https only (unset: "
            "`https://api.github.com`; GitHub Enterprise: `https://HOST/api/v3`).",
        )
        _token = field_validator("token_env")(env_name)

    class State(Strict):
        """Tasks, the ledger and evidence live on a branch of their own (ADR 0005)."""

        branch: str = Field(
            default=DEFAULT_STATE_BRANCH,
            pattern=r"^[\w./-]+$",
            description="The state branch, checked out under `.git/lanectl/state`; push it "
            "like any branch to share state.",
        )
        commit: bool = Field(
            default=True,
            description="Commit every state change (author `lanectl`); `false`: write the "
            "files and commit them yourself (as `--no-commit` does once).",
        )

    class Human(Strict):
        """A person who may approve and merge (`lanectl human add`); their SSH public key
        is in `.lanes/allowed_signers` under the same email."""

        id: str = Field(
            pattern=r"^[a-z0-9][a-z0-9._-]*$",
            description="Short id, e.g. `alice`; unique among humans and agents.",
        )
        name: str | None = Field(default=None, description="Display name.")
        email: str = Field(
            pattern=r"^[^@\s]+@[^@\s]+$",
            description="The signing principal: the email of their key in "
            "`.lanes/allowed_signers` and their git `user.email`.",
        )

    class Agent(Strict):
        """An agent, one lane each (`lanectl agent add`); the key is its name, e.g.
        `builder-claude`. Its signing key is lanectl-managed (ADR 0009)."""

        role: Literal["builder", "reviewer", "security", "designer"] = Field(
            description="Its lane: what it may do is fixed in code (docs/roles/)."
        )
        provider: Literal["anthropic", "openai", "openai-compatible", "command"] = Field(
            description="How it is run: a vendor API (`openai-compatible`: any server "
            "speaking Chat Completions, with `base_url`) or `command`, an external agent "
            "CLI (docs/agents.md)."
        )
        model: str | None = Field(
            default=None, description="The model name; recorded as `Lane-Model` on commits."
        )
        family: str = Field(
            description="Model family (e.g. `anthropic`, `openai`, `google`): reviews must "
            "come from another family than the builder's (`policy.diversity`)."
        )
        budget: str | None = Field(
            default=None,
            description="The budget it draws on (a key of `budgets`); its credential "
            "and endpoint come from there.",
        )
        base_url: str | None = Field(
            default=None,
            description="The API endpoint, when its budget names none "
            "(`openai-compatible` servers).",
        )
        credential_env: str | None = Field(
            default=None,
            description="The environment variable holding its API key, when its budget names none.",
        )
        command: list[str] | None = Field(
            default=None,
            min_length=1,
            description="Provider `command` only, and required there: the argv lanectl runs "
            "in the worktree, never a shell line.",
        )
        timeout_s: float | None = Field(
            default=None,
            gt=0,
            description="Seconds one run may take (unset: `dispatch.timeout_s`).",
        )
        # The model loop (providers anthropic/openai/openai-compatible): per task.
        max_steps: int | None = Field(
            default=None,
            gt=0,
            le=1000,
            description="Model loop: at most this many model turns per task (unset: 40).",
        )
        max_tokens: int | None = Field(
            default=None,
            gt=0,
            description="Model loop: at most this many tokens per task, input and "
            "output over all turns sent (unset: 400,000).",
        )
        reply_tokens: int | None = Field(
            default=None,
            gt=0,
            le=200_000,
            description="Model loop: `max_tokens` of each model turn (unset: 8,192, or half "
            "the budget's output_tpm (else tpm) when that is less).",
        )
        _cred = field_validator("credential_env")(env_name)
        _argv = field_validator("command")(argv_template)

    Vendor = Literal["anthropic", "openai", "openai-compatible"]

    class Budget(Strict):
        """A rate budget: one per credential, shared by every agent and process that uses
        it, and paced so calls stay inside its limits (ADR 0020). Its key is its name."""

        credential_env: str | None = Field(
            default=None, description="The environment variable holding the API key."
        )
        keyring: str | None = Field(
            default=None,
            pattern=r"^[^/\s]+/[^/\s]+$",
            description="Or a `service/user` entry in the system keyring (needs the "
            "`keyring` package); not both.",
        )
        provider: Vendor | None = Field(
            default=None,
            description="The vendor this key belongs to (unset: the agent's provider).",
        )
        base_url: str | None = Field(
            default=None,
            pattern=r"^https?://\S+$",
            description="The endpoint; required for `openai-compatible`.",
        )
        rpm: int | None = Field(default=None, gt=0, description="Requests per minute.")
        input_tpm: int | None = Field(default=None, gt=0, description="Input tokens per minute.")
        output_tpm: int | None = Field(default=None, gt=0, description="Output tokens per minute.")
        tpm: int | None = Field(
            default=None, gt=0, description="Tokens per minute, input and output together."
        )
        max_concurrency: int | None = Field(
            default=None, gt=0, description="Requests in flight at once, at most."
        )
        time_scale: float = Field(
            default=1.0,
            gt=0,
            description="How much faster than real time the vendor's clock runs: above 1 "
            "only against `lanectl sim serve`.",
        )
        _cred = field_validator("credential_env")(env_name)

    class Route(Strict):
        """A route: light work (summaries, triage) sent to a cheaper model. Its key is the
        route's name, e.g. `summarize`."""

        model: str = Field(min_length=1, description="The model that answers.")
        budget: str | None = Field(
            default=None,
            description="The budget it draws on (a key of `budgets`; unset: the agent's).",
        )
        provider: Vendor | None = Field(
            default=None, description="The vendor (unset: the budget's or the agent's)."
        )
        max_tokens: int | None = Field(
            default=None, gt=0, description="A cap on output tokens per call."
        )

    class Price(Strict):
        """What a model costs, in US dollars per million tokens, for `lanectl budget`.
        Its key is the model name."""

        input: float = Field(ge=0, description="Input tokens.")
        output: float = Field(ge=0, description="Output tokens.")
        cache_read: float | None = Field(
            default=None, ge=0, description="Prompt-cache reads (unset: the input price)."
        )
        cache_write: float | None = Field(
            default=None, ge=0, description="Prompt-cache writes (unset: the input price)."
        )

    class Cache(Strict):
        """The local response cache: an identical request is answered without sending it
        (ADR 0021)."""

        responses: bool = Field(default=True, description="Use the cache.")
        max_age_days: float = Field(default=30, gt=0, description="Days a cached answer is kept.")

    class RiskRule(Strict):
        """A diff-based risk rule: a task touching these paths is at least this tier."""

        paths: list[str] = Field(description="Globs of repository paths.")
        tier: Tier = Field(description="The tier a change under them has at least.")
        reason: str | None = Field(default=None, description="Why, shown by the gate.")

    class RedRule(Strict):
        """A red rule of your own: it binds every actor, like the built-in ones, which
        cannot be disabled (SPEC §5.2)."""

        name: str = Field(description="Named in every denial and ledger event.")
        commands: list[str] = Field(
            default=[],
            description="Globs of commands it forbids, found through shells and wrappers; "
            "a pattern also matches with more arguments after it.",
        )
        paths: list[str] = Field(default=[], description="Globs of paths it forbids.")
        hosts: list[str] = Field(default=[], description="Globs of hosts it forbids.")
        reason: str | None = Field(default=None, description="Why, shown with a denial.")

    class Approval(Strict):
        """Human approval."""

        required_from: Tier = Field(
            default="low",
            description="The lowest tier that needs a human approval commit. Not read yet: "
            "every tier needs one (a standing approval may cover low).",
        )

    class Policy(Strict):
        """The rules the gate applies (SPEC §5, §6)."""

        diversity: Literal["strict", "warn"] = Field(
            default="strict",
            description="`strict`: a review from the builder's model family does not count; "
            "`warn`: it counts, with a warning.",
        )
        approval: Approval = Field(default=Approval(), description="Human approval.")
        risk: list[RiskRule] = Field(
            default=[],
            description="Risk rules, in addition to the built-in ones (`.lanes/**` and CI "
            "workflows are high, as is a diff with a secret in it).",
        )
        red_rules: list[RedRule] = Field(
            default=[], description="Your own red rules, on top of the built-in ones."
        )

    class Dispatch(Strict):
        """Claims and time limits of `lanectl dispatch` (ADR 0017, 0018)."""

        remote: str | None = Field(
            default=None,
            pattern=r"^[\w.-]+$",
            description="A git remote to share claims through (and push `lanes/<task>` "
            "to), so dispatchers on several machines never build the same task.",
        )
        lease_s: float = Field(
            default=300,
            gt=0,
            description="Seconds a claim lasts unless renewed; renewed every third of it "
            "while the builder runs.",
        )
        timeout_s: float = Field(
            default=3600,
            gt=0,
            description="Seconds an agent's run may take, unless the agent sets its own.",
        )
        check_timeout_s: float = Field(
            default=900, gt=0, description="Seconds each configured check may take."
        )

    def command_patterns(value: list[str]) -> list[str]:
        """each a command pattern: the first word names the program, one glob per further
        word, a last word `...` allows any more"""
        from lanectl.toolbox import pattern_problem

        for index, pattern in enumerate(value):
            problem = pattern_problem(pattern)
            if problem:
                raise ValueError(f"item {index}: {problem}")
        return value

    class Tools(Strict):
        """What a model agent's tools may do (ADR 0022)."""

        commands: list[str] = Field(
            default=[],
            description="What the `run` tool may start besides the configured checks: "
            "argv patterns, one glob per word, a last word `...` for any further words, "
            "the first word a literal program; the policy engine still decides each command.",
        )
        run_timeout_s: float = Field(default=300, gt=0, description="Seconds one `run` may take.")
        output_cap: int = Field(
            default=16000,
            ge=1000,
            le=1_000_000,
            description="Characters of a tool result the model sees, at most.",
        )
        _commands = field_validator("commands")(command_patterns)

    def sandbox_paths(value: list[str]) -> list[str]:
        """each an absolute path, `~` or a path starting with `~/`, without `..`"""
        from lanectl.sandboxrules import path_problem

        for index, path in enumerate(value):
            problem = path_problem(path)
            if problem:
                raise ValueError(f"item {index}: {problem}")
        return value

    class Sandbox(Strict):
        """The Landlock sandbox of every process lanectl starts for an agent: checks, the
        `run` tool, reviewers' tool runs, command agents (ADR 0032, docs/agents.md)."""

        required: bool = Field(
            default=False,
            description="Refuse to dispatch (and to start any agent process) where Landlock "
            "is unavailable; `false`: warn (`lanectl doctor`, `dispatch`) and run them "
            "unsandboxed.",
        )
        read: list[str] = Field(
            default=[],
            description="More paths agent processes may read and execute beneath (absolute, "
            "or `~/…` in the home of the user running lanectl), e.g. a tool's install "
            "directory; never one that holds lanectl's home.",
        )
        write: list[str] = Field(
            default=[],
            description="More paths they may also write beneath, e.g. a shared build cache; "
            "never one that holds lanectl's home.",
        )
        run_network: bool = Field(
            default=False,
            description="Let commands of the `run` tool open and accept TCP connections "
            "(loopback included); checks and command agents always may.",
        )
        _read = field_validator("read")(sandbox_paths)
        _write = field_validator("write")(sandbox_paths)

    class Review(Strict):
        """The model calls of one review: a diff bigger than one call is cut by file and
        hunk; what does not fit makes the review incomplete (ADR 0027)."""

        max_input_tokens: int = Field(
            default=24000,
            gt=0,
            description="Input tokens per call, the prompt and a part of the diff together "
            "(also capped by the agent's budget).",
        )
        max_output_tokens: int = Field(
            default=4096, gt=0, description="Output tokens per call (the answer's findings)."
        )
        max_calls: int = Field(
            default=12,
            gt=0,
            description="Conversations (parts of the diff) per review; files beyond them are "
            "skipped.",
        )
        max_steps: int = Field(
            default=8,
            gt=0,
            description="Model turns per part: tool calls on the way, the answer last.",
        )

    class Config(Strict):
        """The top level of `.lanes/config.yaml`."""

        version: Literal[1] = Field(
            description="The format version; lanectl refuses a version it does not know."
        )
        base_branch: str = Field(
            default="main",
            pattern=r"^[\w./-]+$",
            description="The branch work merges into; policy, signers and ADRs are read "
            "from it, never from the working tree.",
        )
        state: State = Field(
            default=State(), description="Where tasks, the ledger and evidence live."
        )
        forge: Forge = Field(default=Forge(), description="Where merges happen.")
        humans: list[Human] = Field(default=[], description="People who may approve and merge.")
        agents: dict[str, Agent] = Field(default={}, description="The agents, by name.")
        budgets: dict[str, Budget] = Field(
            default={}, description="Rate budgets, by name: one per credential."
        )
        routing: dict[str, Route] = Field(
            default={}, description="Routes to cheaper models, by name."
        )
        prices: dict[str, Price] = Field(
            default={}, description="Prices for `lanectl budget`, by model name."
        )
        cache: Cache = Field(default=Cache(), description="The response cache.")
        policy: Policy = Field(default=Policy(), description="The rules the gate applies.")
        checks: list[str] = Field(
            default=[],
            description="Commands lanectl runs in the task's worktree at the head under "
            "review, split like a shell would but run without one; all must pass.",
        )
        dispatch: Dispatch = Field(
            default=Dispatch(), description="Claims and time limits of `lanectl dispatch`."
        )
        tools: Tools = Field(default=Tools(), description="What a model agent's tools may do.")
        sandbox: Sandbox = Field(
            default=Sandbox(), description="What the processes started for agents may touch."
        )
        review: Review = Field(
            default=Review(), description="How one review's model calls are cut (ADR 0027)."
        )

    return Config


def _fields_at(model: type[BaseModel], loc: tuple[str | int, ...]) -> list[str]:
    """Known field names of the model found at ``loc`` (for typo suggestions)."""
    from typing import get_args, get_origin

    def unwrap(annotation: Any) -> Any:
        args = [a for a in get_args(annotation) if a is not type(None)]
        if get_origin(annotation) not in (list, dict) and len(args) == 1:
            return args[0]
        return annotation

    current: Any = model
    for part in loc:
        current = unwrap(current)
        if get_origin(current) in (list, dict):
            current = get_args(current)[-1]
        elif isinstance(current, type) and hasattr(current, "model_fields"):
            field = current.model_fields.get(str(part))
            if field is None:
                return []
            current = field.annotation
        else:
            return []
    current = unwrap(current)
    if isinstance(current, type) and hasattr(current, "model_fields"):
        return list(current.model_fields)
    return []


def _walk_secrets(value: Any, path: tuple[str | int, ...]) -> list[tuple[str | int, ...]]:
    found: list[tuple[str | int, ...]] = []
    if isinstance(value, dict):
        for key, item in value.items():
            found += _walk_secrets(item, (*path, str(key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _walk_secrets(item, (*path, index))
    elif isinstance(value, str) and SECRET_SHAPES.match(value.strip()):
        found.append(path)
    return found


def _key_path(loc: tuple[str | int, ...]) -> str:
    return " › ".join(str(p) for p in loc) if loc else "(top level)"


def validate(root: Path) -> list[Problem]:
    """Every problem in the config file, each naming file:line › key path."""
    from pydantic import ValidationError

    path = root / CONFIG_PATH
    if not path.exists():
        return [Problem(CONFIG_PATH, "missing; run `lanectl init`")]
    try:
        text = yamlio.decode(path.read_bytes(), CONFIG_PATH)
        raw = yamlio.load(text, CONFIG_PATH)
    except LaneError as exc:
        return [Problem(exc.where or CONFIG_PATH, exc.message)]
    if not isinstance(raw, dict):
        return [Problem(f"{CONFIG_PATH}:1", "the config must be a mapping of keys")]
    lines = yamlio.key_lines(text)
    problems: list[Problem] = []

    def where(loc: tuple[str | int, ...]) -> str:
        probe = loc
        while probe and probe not in lines:
            probe = probe[:-1]
        return f"{CONFIG_PATH}:{lines[probe]}" if probe else f"{CONFIG_PATH}:1"

    for loc in _walk_secrets(raw, ()):
        problems.append(
            Problem(
                where(loc),
                f"{_key_path(loc)}: looks like a literal secret; put it in an environment "
                "variable and name the variable here (e.g. credential_env: OPENAI_API_KEY)",
            )
        )
    model = _models()
    try:
        model.model_validate(raw)
    except ValidationError as exc:
        for error in exc.errors():
            loc = tuple(p for p in error["loc"] if not isinstance(p, str) or "[" not in p)
            if error["type"] == "extra_forbidden":
                key = str(loc[-1])
                known = _fields_at(model, loc[:-1])
                close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
                hint = f"; did you mean '{close[0]}'?" if close else ""
                options = f" (known keys: {', '.join(known)})" if known and not close else ""
                message = f"{_key_path(loc)}: unknown key{hint}{options}"
            else:
                got = error.get("input")
                shown = f" (got {type(got).__name__})" if error["type"].endswith("_type") else ""
                message = f"{_key_path(loc)}: {error['msg'].lower()}{shown}"
            problems.append(Problem(where(loc), message))
    if not problems:
        problems += _cross_references(raw, where)
    return problems


def _cross_references(raw: dict[str, Any], where: Any) -> list[Problem]:
    problems: list[Problem] = []
    budgets = set((raw.get("budgets") or {}).keys())
    for name, agent in (raw.get("agents") or {}).items():
        budget = agent.get("budget")
        if budget is not None and budget not in budgets:
            problems.append(
                Problem(
                    where(("agents", name, "budget")),
                    f"agents › {name} › budget: unknown budget '{budget}'"
                    + (f" (budgets: {', '.join(sorted(budgets))})" if budgets else ""),
                )
            )
        if agent.get("provider") == "command" and not agent.get("command"):
            problems.append(
                Problem(
                    where(("agents", name)), f"agents › {name}: provider command needs command:"
                )
            )
        elif agent.get("provider") != "command" and agent.get("command"):
            problems.append(
                Problem(
                    where(("agents", name, "command")),
                    f"agents › {name} › command: only a provider command agent runs a command",
                )
            )
    for name, route in (raw.get("routing") or {}).items():
        budget = route.get("budget")
        if budget is not None and budget not in budgets:
            problems.append(
                Problem(
                    where(("routing", name, "budget")),
                    f"routing › {name} › budget: unknown budget '{budget}'",
                )
            )
    for name, budget in (raw.get("budgets") or {}).items():
        if budget.get("credential_env") and budget.get("keyring"):
            problems.append(
                Problem(
                    where(("budgets", name)),
                    f"budgets › {name}: give credential_env or keyring, not both",
                )
            )
        if budget.get("provider") == "openai-compatible" and not budget.get("base_url"):
            problems.append(
                Problem(
                    where(("budgets", name)),
                    f"budgets › {name}: provider openai-compatible needs base_url:",
                )
            )
    seen: dict[str, int] = {}
    for index, human in enumerate(raw.get("humans") or []):
        hid = human.get("id")
        if hid in seen:
            problems.append(
                Problem(where(("humans", index, "id")), f"humans › {index} › id: duplicate '{hid}'")
            )
        seen[hid] = index
    return problems
