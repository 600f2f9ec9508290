"""Generated docs are checked, not trusted (STYLE §17, ADR 0030).

``docs/cli.md`` and the other generated pages must be exactly what the code
says now; when they are not, the failure names the page and the one command
that regenerates it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lanectl import config, docgen
from lanectl.docgen import clidoc, configdoc, roledoc
from lanectl.errors import LaneError

ROOT = Path(__file__).resolve().parents[1]


def test_generated_pages_are_up_to_date() -> None:
    stale = docgen.stale(ROOT)
    assert not stale, "\n".join(
        f"{path} is stale (a command's --help, the config schema or the policy changed): "
        f"regenerate it with `{docgen.REGENERATE}` and commit the result"
        for path in stale
    )


def test_every_config_key_has_a_description() -> None:
    missing = configdoc.undocumented()
    assert not missing, (
        f"add Field(description=...) in src/lanectl/config.py for {', '.join(missing)}, "
        f"then run `{docgen.REGENERATE}`"
    )


def test_undocumented_keys_are_found_at_any_depth() -> None:
    from pydantic import BaseModel, Field

    class Leaf(BaseModel):
        said: int = Field(default=1, description="Documented.")
        bare: int = 2

    class Top(BaseModel):
        leaves: dict[str, Leaf] = Field(default={}, description="Documented.")
        other: list[Leaf] | None = None

    assert configdoc.undocumented(Top) == ["other", "leaves.<name>.bare", "other[].bare"]


def test_the_config_page_has_a_row_for_every_key_with_its_schema_facts() -> None:
    page = (ROOT / configdoc.PATH).read_text()
    for section in configdoc.sections(config._models()):
        heading = f"## `{section.title}`" if section.title else "## Top level"
        body = page.split(f"\n{heading}\n", 1)[1].split("\n## ", 1)[0]
        for name, field in section.model.model_fields.items():
            assert f"| `{name}` |" in body, f"{section.title}.{name}"
            assert str(field.description).split()[0] in body, f"{section.title}.{name}"
    agents = page.split("\n## `agents.<name>`\n", 1)[1].split("\n## ", 1)[0]
    assert "| `max_steps` | integer | unset | > 0; ≤ 1000 | Model loop:" in agents
    assert "| `role` | one of `builder`, `reviewer`, `security`, `designer` | required |" in agents
    assert "never the secret |" in agents  # credential_env: the validator's own docstring


def test_a_table_cell_is_one_line_with_pipes_and_tags_escaped_outside_code() -> None:
    assert (
        docgen.cell("to lanes/<task> |\n then `a|<b>`") == "to lanes/&lt;task> \\| then `a\\|<b>`"
    )


def test_role_blocks_are_rewritten_from_the_code_and_unknown_ones_refused() -> None:
    stale = "intro\n<!-- docgen:capabilities security -->\n| old | table |\n<!-- /docgen -->\nend\n"
    filled = roledoc.fill(stale, "docs/roles/x.md")
    assert "| old | table |" not in filled
    assert filled.startswith("intro\n<!-- docgen:capabilities security -->\n| action |")
    assert filled.endswith("<!-- /docgen -->\nend\n")
    assert "| veto a task | `lane.veto` | ✓ | security, human |  |" in filled
    assert roledoc.fill(filled, "docs/roles/x.md") == filled
    with pytest.raises(LaneError, match=r"docs/roles/x.md: unknown block docgen:nope"):
        roledoc.fill("<!-- docgen:nope -->\n<!-- /docgen -->\n", "docs/roles/x.md")


def test_every_agent_role_has_a_page_with_its_capability_table() -> None:
    from lanectl import policy

    for role in policy.AGENT_ROLES:
        page = ROOT / roledoc.ROLES_DIR / f"{role}.md"
        assert page.is_file(), f"{page.relative_to(ROOT)} is missing"
        assert f"<!-- docgen:capabilities {role} -->\n| action |" in page.read_text()


def test_role_pages_document_every_placeholder_of_their_prompt() -> None:
    for path, text in roledoc.pages(ROOT):
        assert roledoc.UNDOCUMENTED not in text, (
            f"{path}: a prompt placeholder has no description; add it to "
            "placeholder_text() in src/lanectl/docgen/roledoc.py, "
            f"then run `{docgen.REGENERATE}`"
        )
    builder = (ROOT / "docs/roles/builder.md").read_text()
    for name in ("task_id", "goal", "acceptance", "notes", "adrs", "worktree", "paths"):
        assert f"| `{{{name}}}` |" in builder


def test_check_names_the_stale_page_and_the_command(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    for page in docgen.pages(ROOT):
        target = tmp_path / page.path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(page.text)
    args = [sys.executable, "-m", "lanectl.docgen", "--check", "--root", str(tmp_path)]
    fresh = subprocess.run(args, capture_output=True, text=True, check=False)
    assert fresh.returncode == 0, fresh.stderr
    cli_md = tmp_path / clidoc.PATH
    cli_md.write_text(cli_md.read_text().replace("## `lanectl task new`", "## `lanectl task nu`"))
    stale = subprocess.run(args, capture_output=True, text=True, check=False)
    assert stale.returncode == 1
    assert stale.stderr == (
        f"docgen: docs/cli.md is stale; regenerate with `{docgen.REGENERATE}`\n"
    )
    assert docgen.main(["--root", str(tmp_path)]) == 0
    assert docgen.stale(tmp_path) == []


def test_regenerating_a_fresh_tree_writes_nothing(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "docs", tmp_path / "docs")
    before = {p: p.stat().st_mtime_ns for p in (tmp_path / "docs").rglob("*.md")}
    assert docgen.write(tmp_path) == []
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "docs").rglob("*.md")} == before


def test_the_cli_page_does_not_depend_on_terminal_machine_or_directory(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "COLUMNS": "37",
        "LINES": "5",
        "HOME": str(tmp_path / "elsewhere"),
        "TMPDIR": str(tmp_path),
        "NO_COLOR": "",
        "FORCE_COLOR": "1",
    }
    code = (
        "import sys; from lanectl import docgen; from lanectl.docgen import clidoc\n"
        "sys.stdout.write(clidoc.render(docgen.REGENERATE))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == (ROOT / clidoc.PATH).read_text()
    assert "\x1b[" not in proc.stdout


@pytest.mark.parametrize("argv", [["--help"], ["task", "new", "--help"], ["completion", "-h"]])
def test_the_cli_page_shows_what_help_prints(tmp_path: Path, argv: list[str]) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "lanectl", *argv],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert proc.returncode == 0, proc.stderr
    title = " ".join(["lanectl", *argv[:-1]])
    page = (ROOT / clidoc.PATH).read_text()
    section = page.split(f"## `{title}`\n\n```text\n", 1)[1].split("```", 1)[0]
    assert section == proc.stdout


def test_docgen_is_not_on_the_cli_start_path(tmp_path: Path) -> None:
    code = (
        "import sys; from lanectl.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "print('LOADED=' + ','.join(m for m in sys.modules if m.startswith('lanectl.docgen')))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, check=True
    )
    assert proc.stdout.strip().splitlines()[-1] == "LOADED="
