from __future__ import annotations

from pathlib import Path

import pytest

from conftest import git
from lanectl import risk
from lanectl.globs import match

RULES = [
    (("infra/**", "deploy/**", "**/*.tf", "migrations/**"), "high", "irreversible or production"),
    (("src/fetch/**",), "medium", "network code"),
    (("docs/**",), "low", "documentation"),
]


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        ("src/**", "src/a.py", True),
        ("src/**", "src/x/y.py", True),
        ("src/**", "srcx/a.py", False),
        ("**/*.tf", "main.tf", True),
        ("**/*.tf", "infra/a/main.tf", True),
        ("docs/*.md", "docs/x/a.md", False),
        ("infra/", "infra/x.yaml", True),
    ],
)
def test_globs(pattern: str, path: str, expected: bool) -> None:
    assert match(pattern, path) is expected


def test_tier_is_the_max_of_declared_and_computed() -> None:
    assert risk.compute("low", ["docs/a.md"], RULES).effective == "low"
    assert risk.compute("high", ["docs/a.md"], RULES).effective == "high"  # never lowered
    result = risk.compute("low", ["docs/a.md", "src/fetch/retry.py"], RULES)
    assert (result.computed, result.effective) == ("medium", "medium")
    assert str(result.reasons[0]) == "src/fetch/retry.py: network code"
    assert risk.compute("low", ["infra/main.tf"], RULES).effective == "high"


def test_a_low_rule_never_lowers_a_higher_one() -> None:
    rules = [*RULES, (("**",), "low", "everything is fine")]
    assert risk.compute("low", ["deploy/prod.yaml"], rules).effective == "high"


def test_governance_and_ci_are_high_whatever_the_config_says() -> None:
    permissive = [(("**",), "low", "all low")]
    assert risk.compute("low", [".lanes/config.yaml"], permissive).effective == "high"
    assert risk.compute("low", [".github/workflows/ci.yml"], permissive).effective == "high"
    assert risk.compute("low", [".lanes/config.yaml"], []).effective == "high"


def test_diff_against_the_merge_base_with_secrets(git_repo: Path) -> None:
    git(git_repo, "checkout", "-q", "-b", "lanes/T-AAAAAAAA")
    (git_repo / "docs").mkdir()
    (git_repo / "docs/howto.md").write_text("# How to\n\nUse the key.\n")
    (git_repo / "infra").mkdir()
    (git_repo / "infra/settings.py").write_text('x = 1\naws = "AKIAIOSFODNN7EXAMPLE"\n')
    git(git_repo, "add", ".")
    git(git_repo, "commit", "-q", "-m", "work")
    # the base moving on does not put its changes in the task's diff
    git(git_repo, "checkout", "-q", "main")
    (git_repo / "other.txt").write_text("base moved\n")
    git(git_repo, "add", ".")
    git(git_repo, "commit", "-q", "-m", "base moves")
    raw = {"policy": {"risk": [{"paths": ["docs/**"], "tier": "low"}]}}
    result = risk.assess(git_repo, "main", "lanes/T-AAAAAAAA", "low", raw)
    assert sorted(result.paths) == ["docs/howto.md", "infra/settings.py"]
    assert result.effective == "high"
    assert [str(s) for s in result.secrets] == ["infra/settings.py:2: AWS Access Key"]
    assert "AKIA" not in str(result.to_json())
