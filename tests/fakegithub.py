"""A loopback fake of the GitHub REST endpoints lanectl uses, for real PyGithub in tests.

Stateful and backed by a bare git repository (the "GitHub" remote: tests
push branches to it, and a merge makes a real merge commit there). Responses
are shaped like GitHub's own and every ``url`` points back at the fake, since
PyGithub follows them. Failures can be switched on (``fail``), a request log
records what PyGithub sent, and review comments are checked against the
pull request's diff hunks the way GitHub does (a line outside them is a 422
for the whole review).
"""

from __future__ import annotations

import json
import re
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest

from fakegithub_api import Api

Response = tuple[int, Any, dict[str, str]]
DOCS = "https://docs.github.com/rest"
SECONDARY = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
)
BAD_LINE = "Pull request review thread line must be part of the diff"


@dataclass
class Failure:
    method: str
    pattern: str  # a regex the path must match (search)
    status: int
    body: Any
    headers: dict[str, str]
    after: bool  # carry the request out first, then fail (a 502 after GitHub acted)
    times: int


@dataclass
class Logged:
    method: str
    path: str
    query: dict[str, str]
    body: Any
    authorization: str | None


@dataclass
class State:
    pulls: dict[int, dict[str, Any]] = field(default_factory=dict)
    reviews: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    comments: dict[int, dict[str, Any]] = field(default_factory=dict)  # issue comments by id
    statuses: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # by sha
    protection: dict[str, Any] | None = None
    protection_readable: bool = True
    rulesets: dict[int, dict[str, Any]] = field(default_factory=dict)
    settings: dict[str, Any] = field(
        default_factory=lambda: {
            "allow_merge_commit": True,
            "allow_squash_merge": True,
            "allow_rebase_merge": True,
        }
    )


class FakeGitHub(Api):
    def __init__(
        self, git_dir: Path, repo: str = "octo/shop", token: str = "", page_size: int = 30
    ):
        self.git_dir = git_dir
        self.full_name = repo
        self.owner = repo.split("/")[0]
        self.token = token
        self.page_size = page_size  # the most items per page, whatever per_page asks
        self.state = State()
        self.failures: list[Failure] = []
        self.log: list[Logged] = []
        self._ids = 1000
        self._lock = threading.RLock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                status, body, headers = fake.handle(
                    self.command, self.path, raw, self.headers.get("Authorization")
                )
                data = b"" if body is None else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    # -- lifecycle -------------------------------------------------------------
    def __enter__(self) -> FakeGitHub:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    # -- switches and assertions ---------------------------------------------------
    def fail(
        self,
        method: str,
        pattern: str,
        status: int,
        message: str = "Server Error",
        *,
        headers: dict[str, str] | None = None,
        after: bool = False,
        times: int = 1,
        errors: list[Any] | None = None,
    ) -> None:
        body: dict[str, Any] = {
            "message": message,
            "documentation_url": DOCS,
            "status": str(status),
        }
        if errors is not None:
            body["errors"] = errors
        self.failures.append(Failure(method, pattern, status, body, headers or {}, after, times))

    def secondary_limit(self, method: str, pattern: str, retry_after: int = 60) -> None:
        self.fail(method, pattern, 403, SECONDARY, headers={"Retry-After": str(retry_after)})

    def requests(self, method: str | None = None, pattern: str = "") -> list[Logged]:
        return [
            r
            for r in self.log
            if (method is None or r.method == method) and re.search(pattern, r.path)
        ]

    def protect(
        self,
        contexts: list[str] | None = None,
        *,
        enforce_admins: bool = True,
        linear: bool = False,
        force_pushes: bool = False,
        bypass_users: list[str] | None = None,
    ) -> None:
        self.state.protection = self.protection_json(
            contexts or [], enforce_admins, linear, force_pushes, bypass_users or []
        )

    def add_ruleset(
        self,
        name: str,
        rules: list[dict[str, Any]],
        *,
        bypass_actors: list[dict[str, Any]] | None = None,
        include: list[str] | None = None,
        enforcement: str = "active",
    ) -> int:
        ident = self._next()
        self.state.rulesets[ident] = self.ruleset_json(
            ident, name, rules, bypass_actors or [], include or ["~DEFAULT_BRANCH"], enforcement
        )
        return ident

    # -- git -------------------------------------------------------------------------
    def git(self, *args: str, check: bool = True, env: dict[str, str] | None = None) -> str:
        proc = subprocess.run(
            ["git", *args], cwd=self.git_dir, capture_output=True, text=True, env=env
        )
        if check and proc.returncode != 0:
            raise RuntimeError(proc.stderr)
        return proc.stdout.strip() if proc.returncode == 0 else ""

    def ref(self, branch: str) -> str | None:
        return (
            self.git("rev-parse", "--verify", "--quiet", f"refs/heads/{branch}", check=False)
            or None
        )

    def has_commit(self, sha: str) -> bool:
        return bool(re.fullmatch(r"[0-9a-f]{40}", sha)) and bool(
            self.git("cat-file", "-t", sha, check=False) == "commit"
        )

    def hunks(self, base: str, head: str) -> dict[str, list[tuple[int, int, int, int]]]:
        """path → (old_start, old_count, new_start, new_count) of GitHub's diff of the PR."""
        diff = self.git("diff", "--find-renames", "-U3", "--src-prefix=a/", "--dst-prefix=b/",
                        f"{base}...{head}")  # fmt: skip
        found: dict[str, list[tuple[int, int, int, int]]] = {}
        for chunk in re.split(r"^diff --git .*$", diff, flags=re.MULTILINE)[1:]:
            header = chunk.split("\n@@", 1)[0]
            new = re.search(r"^\+\+\+ (?:b/)?(.*)$", header, re.MULTILINE)
            old = re.search(r"^--- (?:a/)?(.*)$", header, re.MULTILINE)
            path = (
                new.group(1)
                if new and new.group(1) != "/dev/null"
                else (old.group(1) if old else "")
            )
            spans = re.findall(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@", chunk, re.MULTILINE)
            found[path] = [(int(a), int(b or 1), int(c), int(d or 1)) for a, b, c, d in spans]
        return found

    # -- dispatch ----------------------------------------------------------------------
    def _next(self) -> int:
        with self._lock:
            self._ids += 1
            return self._ids

    def handle(self, method: str, target: str, raw: bytes, auth: str | None) -> Response:
        parts = urlsplit(target)
        query = dict(parse_qsl(parts.query))
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            return 400, {"message": "Problems parsing JSON"}, {}
        with self._lock:
            self.log.append(Logged(method, parts.path, query, body, auth))
            if auth not in (f"token {self.token}", f"Bearer {self.token}"):
                return 401, {"message": "Bad credentials", "documentation_url": DOCS}, {}
            failure = next(
                (
                    f
                    for f in self.failures
                    if f.method == method and re.search(f.pattern, parts.path)
                ),
                None,
            )
            if failure is not None:
                failure.times -= 1
                if failure.times <= 0:
                    self.failures.remove(failure)
                if failure.after:
                    self.route(method, parts.path, query, body)
                return failure.status, failure.body, failure.headers
            return self.route(method, parts.path, query, body)

    def route(self, method: str, path: str, query: dict[str, str], body: Any) -> Response:
        prefix = f"/repos/{self.full_name}"
        if not path.startswith(prefix):
            return self.not_found()
        rest = path[len(prefix) :]
        for verb, pattern, name in self.ROUTES:
            match = re.fullmatch(pattern, rest)
            if verb == method and match:
                handler = getattr(self, name)
                return handler(query, body if body is not None else {}, *match.groups())
        return self.not_found()

    def not_found(self, message: str = "Not Found") -> Response:
        return 404, {"message": message, "documentation_url": DOCS, "status": "404"}, {}

    def invalid(self, message: str, errors: list[Any]) -> Response:
        return 422, {"message": message, "errors": errors, "documentation_url": DOCS,
                     "status": "422"}, {}  # fmt: skip

    def page(self, path: str, query: dict[str, str], items: list[Any]) -> Response:
        size = min(int(query.get("per_page") or 30), self.page_size)
        number = int(query.get("page") or 1)
        last = max(1, -(-len(items) // size))
        headers: dict[str, str] = {}
        links = []
        if number < last:
            links.append(
                f'<{self.url}{path}?{urlencode({**query, "page": number + 1})}>; rel="next"'
            )
            links.append(f'<{self.url}{path}?{urlencode({**query, "page": last})}>; rel="last"')
        if links:
            headers["Link"] = ", ".join(links)
        return 200, items[(number - 1) * size : number * size], headers


TOKEN = "ghp_lanectlFakeToken0123456789ABCDEF"  # a known fake, scanned for in outputs


@pytest.fixture(name="fake")
def fake_github(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGitHub]:
    """A fake GitHub over a new bare repository, with GITHUB_TOKEN set to its token."""
    from conftest import git

    bare = tmp_path / "github.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    with FakeGitHub(bare, token=TOKEN) as server:
        yield server
