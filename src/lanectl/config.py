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

    class Strict(BaseModel):
        model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    Tier = Literal["low", "medium", "high"]

    def env_name(value: str | None) -> str | None:
        if value is not None and not ENV_NAME.match(value):
            raise ValueError("must be the NAME of an environment variable (e.g. OPENAI_API_KEY)")
        return value

    def argv_template(value: list[str] | None) -> list[str] | None:
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
        kind: Literal["local", "github"] = "local"
        repo: str | None = Field(default=None, pattern=r"^[\w.-]+/[\w.-]+$")
        token_env: str | None = None
        api_url: str | None = None
        _token = field_validator("token_env")(env_name)

    class State(Strict):
        branch: str = Field(default=DEFAULT_STATE_BRANCH, pattern=r"^[\w./-]+$")
        commit: bool = True

    class Human(Strict):
        id: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$")
        name: str | None = None
        email: str = Field(pattern=r"^[^@\s]+@[^@\s]+$")

    class Agent(Strict):
        role: Literal["builder", "reviewer", "security", "designer"]
        provider: Literal["anthropic", "openai", "openai-compatible", "command"]
        model: str | None = None
        family: str
        budget: str | None = None
        base_url: str | None = None
        credential_env: str | None = None
        command: list[str] | None = Field(default=None, min_length=1)  # argv, never a shell line
        timeout_s: float | None = Field(default=None, gt=0)
        # The model loop (providers anthropic/openai/openai-compatible): per task.
        max_steps: int | None = Field(default=None, gt=0, le=1000)  # model turns
        max_tokens: int | None = Field(default=None, gt=0)  # input + output, all turns
        reply_tokens: int | None = Field(default=None, gt=0, le=200_000)  # max_tokens per turn
        _cred = field_validator("credential_env")(env_name)
        _argv = field_validator("command")(argv_template)

    Vendor = Literal["anthropic", "openai", "openai-compatible"]

    class Budget(Strict):
        credential_env: str | None = None
        keyring: str | None = Field(default=None, pattern=r"^[^/\s]+/[^/\s]+$")  # service/user
        provider: Vendor | None = None  # the vendor this key belongs to (default: the agent's)
        base_url: str | None = Field(default=None, pattern=r"^https?://\S+$")
        rpm: int | None = Field(default=None, gt=0)
        input_tpm: int | None = Field(default=None, gt=0)
        output_tpm: int | None = Field(default=None, gt=0)
        tpm: int | None = Field(default=None, gt=0)
        max_concurrency: int | None = Field(default=None, gt=0)
        time_scale: float = Field(default=1.0, gt=0)  # >1 only against `lanectl sim serve`
        _cred = field_validator("credential_env")(env_name)

    class Route(Strict):
        model: str = Field(min_length=1)
        budget: str | None = None
        provider: Vendor | None = None
        max_tokens: int | None = Field(default=None, gt=0)

    class Price(Strict):  # US dollars per million tokens
        input: float = Field(ge=0)
        output: float = Field(ge=0)
        cache_read: float | None = Field(default=None, ge=0)
        cache_write: float | None = Field(default=None, ge=0)

    class Cache(Strict):
        responses: bool = True
        max_age_days: float = Field(default=30, gt=0)

    class RiskRule(Strict):
        paths: list[str]
        tier: Tier
        reason: str | None = None

    class RedRule(Strict):
        name: str
        commands: list[str] = []
        paths: list[str] = []
        hosts: list[str] = []
        reason: str | None = None

    class Approval(Strict):
        required_from: Tier = "low"

    class Policy(Strict):
        diversity: Literal["strict", "warn"] = "strict"
        approval: Approval = Approval()
        risk: list[RiskRule] = []
        red_rules: list[RedRule] = []

    class Dispatch(Strict):
        remote: str | None = Field(default=None, pattern=r"^[\w.-]+$")  # claims shared here
        lease_s: float = Field(default=300, gt=0)
        timeout_s: float = Field(default=3600, gt=0)  # an agent's run, unless it sets its own
        check_timeout_s: float = Field(default=900, gt=0)

    def command_patterns(value: list[str]) -> list[str]:
        from lanectl.toolbox import pattern_problem

        for index, pattern in enumerate(value):
            problem = pattern_problem(pattern)
            if problem:
                raise ValueError(f"item {index}: {problem}")
        return value

    class Tools(Strict):  # what a model agent's tools may do (ADR 0022)
        commands: list[str] = []  # `run` allow-list: one glob per word, last word ... = any more
        run_timeout_s: float = Field(default=300, gt=0)
        output_cap: int = Field(default=16000, ge=1000, le=1_000_000)  # characters per result
        _commands = field_validator("commands")(command_patterns)

    class Config(Strict):
        version: Literal[1]
        base_branch: str = Field(default="main", pattern=r"^[\w./-]+$")
        state: State = State()
        forge: Forge = Forge()
        humans: list[Human] = []
        agents: dict[str, Agent] = {}
        budgets: dict[str, Budget] = {}
        routing: dict[str, Route] = {}
        prices: dict[str, Price] = {}
        cache: Cache = Cache()
        policy: Policy = Policy()
        checks: list[str] = []
        dispatch: Dispatch = Dispatch()
        tools: Tools = Tools()

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
