"""The one error handler: one line and an exit code, never a traceback."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import typer

from conftest import Cli, run_lanectl
from lanectl import __version__
from lanectl.cli.errors import run

ROOT = Path(__file__).resolve().parents[1]


def test_unexpected_error_is_one_line_with_a_crash_log(
    lane_repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    boom = typer.Typer()

    @boom.command()
    def explode() -> None:
        raise RuntimeError("secret-looking detail stays in the log")

    monkeypatch.chdir(lane_repo)
    assert run(boom, []) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert "unexpected error (RuntimeError)" in err
    assert "secret-looking" not in err
    log = lane_repo / ".git/lanectl/crash.log"
    assert str(log) in err
    assert "secret-looking detail" in log.read_text()
    assert run(boom, ["-v"]) == 2  # -v is not an option of this tiny app: usage error
    capsys.readouterr()


def test_interrupt_exits_130(capsys: pytest.CaptureFixture[str]) -> None:
    stop = typer.Typer()

    @stop.command()
    def wait() -> None:
        raise KeyboardInterrupt

    assert run(stop, []) == 130
    assert "interrupted" in capsys.readouterr().err


def test_usage_error_exits_2(cli: Cli) -> None:
    result = cli("task", "list", "--state")
    assert result.code == 2
    result = cli("no-such-command")
    assert result.code == 2


def test_known_error_is_one_line(cli: Cli) -> None:
    result = cli("task", "show", "ZZZZ")
    assert result.code == 1
    assert result.err == "lanectl: no task matches 'ZZZZ' (see `lanectl task list`)\n"


def test_version_and_help(tmp_path: Path) -> None:
    proc = run_lanectl(tmp_path, "--version")
    assert proc.stdout.strip() == f"lanectl {__version__}"
    proc = run_lanectl(tmp_path, "--help")
    assert proc.returncode == 0
    for command in ("init", "task", "adr", "check", "status", "log", "audit", "demo"):
        assert command in proc.stdout


def test_help_does_not_import_provider_sdks(tmp_path: Path) -> None:
    code = (
        "import sys; from lanectl.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('anthropic', 'openai', 'github', 'git', 'pydantic') if m in sys.modules]\n"
        "print('HEAVY=' + ','.join(heavy))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, check=True
    )
    assert proc.stdout.strip().splitlines()[-1] == "HEAVY="


def test_wheel_ships_the_templates(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("lanectl-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = ("task.md", "adr.md", "adr-0001.md", "config.yaml", "allowed_signers",
                "github/lanectl-audit.yml")  # fmt: skip
    for template in shipped:
        assert f"lanectl/templates/{template}" in names
