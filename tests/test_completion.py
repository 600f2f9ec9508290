"""Shell completion (`lanectl completion SHELL`, ADR 0030) and `lanectl --version`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import Cli, run_lanectl
from lanectl import __version__

LANECTL = Path(sys.executable).parent / "lanectl"  # the installed entry point


def bash_complete(script: Path, words: list[str], cwd: Path) -> list[str]:
    """What TAB offers after ``words`` in a real bash that sourced ``script``."""
    quoted = " ".join(f"'{w}'" for w in words)
    program = (
        f"source {script}\n"
        f"COMP_WORDS=({quoted}); COMP_CWORD={len(words) - 1}\n"
        "_lanectl_completion lanectl\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    env = {**os.environ, "PATH": f"{LANECTL.parent}{os.pathsep}{os.environ['PATH']}"}
    proc = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", program],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return [line for line in proc.stdout.splitlines() if line]


def test_bash_completion_script_completes_commands_and_sub_commands(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert LANECTL.is_file()
    result = Cli(tmp_path, capsys)("completion", "bash")
    assert result.code == 0
    assert "complete -o default -F _lanectl_completion lanectl" in result.out
    assert "_LANECTL_COMPLETE=complete_bash" in result.out
    script = tmp_path / "lanectl.bash"
    script.write_text(result.out)
    assert bash_complete(script, ["lanectl", "ta"], tmp_path) == ["task"]
    assert bash_complete(script, ["lanectl", "task", "ne"], tmp_path) == ["new"]
    assert bash_complete(script, ["lanectl", "completion", ""], tmp_path) == [
        "bash",
        "zsh",
        "fish",
    ]
    assert "dispatch" in bash_complete(script, ["lanectl", ""], tmp_path)


def test_zsh_and_fish_scripts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cli = Cli(tmp_path, capsys)
    zsh = cli("completion", "zsh", ok=True).out
    assert zsh.startswith("#compdef lanectl")
    assert "compdef _lanectl_completion lanectl" in zsh
    assert "_LANECTL_COMPLETE=complete_zsh" in zsh
    fish = cli("completion", "fish", ok=True).out
    assert fish.startswith("complete --command lanectl")
    assert "_LANECTL_COMPLETE=complete_fish" in fish


def test_an_unknown_shell_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = Cli(tmp_path, capsys)("completion", "tcsh")
    assert result.code == 2
    assert "'tcsh' is not one of 'bash', 'zsh', 'fish'" in result.err


def test_help_offers_the_completion_command_not_shell_detection(tmp_path: Path) -> None:
    proc = run_lanectl(tmp_path, "--help")
    assert proc.returncode == 0
    assert "  completion " in proc.stdout
    assert "--install-completion" not in proc.stdout
    assert "--show-completion" not in proc.stdout


def test_version_is_eager_and_needs_no_repository(tmp_path: Path) -> None:
    for argv in (["--version"], ["--version", "task", "list"], ["--repo", "nowhere", "--version"]):
        proc = run_lanectl(tmp_path, *argv)
        assert (proc.returncode, proc.stdout, proc.stderr) == (0, f"lanectl {__version__}\n", "")
