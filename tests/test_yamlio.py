"""The one YAML module: safe loading with lines, bounded reads, front matter and
an editor that changes only the touched key's text."""

from __future__ import annotations

import os
import tracemalloc
from pathlib import Path

import pytest
import yaml

from lanectl import yamlio
from lanectl.errors import LaneError


def error(call: object, *args: object, **kw: object) -> str:
    with pytest.raises(LaneError) as info:
        call(*args, **kw)  # type: ignore[operator]
    text = str(info.value)
    assert "\n" not in text
    return text


# ---------------------------------------------------------------------------
# Loading


def test_load_is_safe() -> None:
    text = "a: !!python/object/apply:os.system ['echo pwned']\n"
    assert "malformed YAML" in error(yamlio.load, text, "f.yaml")


def test_load_keeps_timestamps_as_written() -> None:
    assert yamlio.load("created: 2026-11-24T10:00:00Z\nday: 2026-11-24\n", "f") == {
        "created": "2026-11-24T10:00:00Z",
        "day": "2026-11-24",
    }


def test_load_names_the_line() -> None:
    text = "a: 1\nb: [unclosed\nc: 3\n"
    assert error(yamlio.load, text, "f.yaml", first_line=2).startswith("f.yaml:4: malformed YAML")
    assert error(yamlio.load, "a: 1\n  b: 2\n", "f.yaml").startswith("f.yaml:2: malformed YAML")


def test_decode_names_the_line_of_bad_utf8() -> None:
    assert yamlio.decode("café".encode(), "f") == "café"
    assert error(yamlio.decode, b"ok\nok\nbad \xc3(\n", "f") == "f:3: invalid UTF-8 (byte 0xc3)"


def test_key_lines() -> None:
    lines = yamlio.key_lines("a: 1\nb:\n  - x\n  - y\nc: {d: 2}\n")
    assert lines[("a",)] == 1
    assert lines[("b",)] == 2
    assert lines[("b", 1)] == 4
    assert lines[("c", "d")] == 5
    assert yamlio.key_lines("a: [") == {}


# ---------------------------------------------------------------------------
# Bounded reads


def test_read_bounded_reads_small_files(tmp_path: Path) -> None:
    path = tmp_path / "f.md"
    path.write_text("hello ✓\n")
    assert yamlio.read_bounded(path, "f.md") == "hello ✓\n"


def test_read_bounded_rejects_a_big_file_without_reading_it(tmp_path: Path) -> None:
    path = tmp_path / "big.md"
    with open(path, "wb") as handle:
        handle.truncate(50 * 1024 * 1024)
    tracemalloc.start()
    try:
        message = error(yamlio.read_bounded, path, "big.md")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert message == "big.md: file is too large (52,428,800 bytes; the limit is 1,000,000)"
    assert peak < 1024 * 1024
    small = tmp_path / "small.md"
    small.write_bytes(b"x" * 11)
    assert error(yamlio.read_bounded, small, "small.md", limit=10).startswith(
        "small.md: file is too large (11 bytes"
    )


def test_read_bounded_refuses_links_fifos_and_directories(tmp_path: Path) -> None:
    target = tmp_path / "target.md"
    target.write_text("secret")
    link = tmp_path / "link.md"
    link.symlink_to(target)
    assert error(yamlio.read_bounded, link, "link.md") == (
        "link.md: is a symbolic link; only regular files are read"
    )
    assert error(yamlio.read_bounded, tmp_path, "dir") == "dir: is not a regular file"
    if hasattr(os, "mkfifo"):
        fifo = tmp_path / "fifo.md"
        os.mkfifo(fifo)
        assert error(yamlio.read_bounded, fifo, "fifo.md") == "fifo.md: is not a regular file"
    assert error(yamlio.read_bounded, tmp_path / "missing", "m") == (
        "m: cannot read: No such file or directory"
    )


# ---------------------------------------------------------------------------
# Front matter


def test_split_and_rebuild_byte_for_byte() -> None:
    text = "--- \r\na: 1\r\n...\r\nbody\r\n"
    front = yamlio.split(text, "f")
    assert front.yaml_text == "a: 1\r\n"
    assert front.body == "body\r\n"
    assert front.with_yaml(front.yaml_text) == text
    assert front.with_body("new\r\n") == "--- \r\na: 1\r\n...\r\nnew\r\n"


def test_split_errors() -> None:
    assert error(yamlio.split, "", "f") == (
        "f: no front matter (the file must start with a '---' line)"
    )
    assert error(yamlio.split, "# title\n---\n", "f").startswith("f: no front matter")
    assert error(yamlio.split, "---\na: 1\n", "f") == (
        "f:1: front matter is not closed by a '---' line"
    )


def test_join() -> None:
    assert yamlio.join("a: 1", "\nbody\n") == "---\na: 1\n---\n\nbody\n"


# ---------------------------------------------------------------------------
# Dumping values that survive a round trip


TRICKY = [
    "yes", "no", "on", "null", "~", "true", "0o7", "1e3", "0x1F", "12:30", "2026-11-24",
    "#hash", "a #b", "a: b", "- x", "? x", "'", '"', "@x", "`x", "%x", "!x", "&a", "*a",
    "|", ">", "---", "...", "", " lead", "trail ", "tab\there", "é ✓ 🚀", "[x]", "{x}",
    "a, b", "\\", "line\nbreak",
]  # fmt: skip


@pytest.mark.parametrize("value", TRICKY)
def test_dump_flow_round_trips_strings(value: str) -> None:
    dumped = yamlio.dump_flow(value)
    assert "\n" not in dumped
    assert yamlio.load(f"k: {dumped}\n", "f") == {"k": value}


def test_dump_flow_lists_and_scalars() -> None:
    assert yamlio.dump_flow(["T-AAAAAAAA", "src/**"]) == "[T-AAAAAAAA, src/**]"
    assert yamlio.dump_flow([]) == "[]"
    assert yamlio.dump_flow("medium") == "medium"
    assert yamlio.dump_flow(["a: b", "#c"]) == "['a: b', '#c']"


# ---------------------------------------------------------------------------
# set_key: only the touched key's text changes


FRONT = """\
# Leading comment
id: T-AAAAAAAA  # the id
title: 'a' # it's mine, with a quote
"risk": low
depends_on:   # why these
  - T-BBBBBBBB   # first

  # a comment that belongs to the next key
x-owner: bob
empty:
multi: [1,
  2]  # after the flow
notes: |
  keep
  this
tail: end
"""


def replaced(old: str, new: str) -> str:
    assert FRONT.count(old) == 1
    return FRONT.replace(old, new)


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("id", "T-CCCCCCCC", replaced("id: T-AAAAAAAA  #", "id: T-CCCCCCCC  #")),
        (
            "title",
            "New: title",
            replaced("title: 'a' # it's", "title: 'New: title' # it's"),
        ),
        ("risk", "high", replaced('"risk": low', "risk: high")),
        (
            "depends_on",
            [],
            replaced(
                "depends_on:   # why these\n  - T-BBBBBBBB   # first\n",
                "depends_on: []   # why these\n",
            ),
        ),
        ("empty", "x", replaced("empty:\n", "empty: x\n")),
        ("multi", [3], replaced("multi: [1,\n  2]  # after", "multi: [3]  # after")),
        ("notes", "short", replaced("notes: |\n  keep\n  this\n", "notes: short\n")),
        ("tail", "new", replaced("tail: end\n", "tail: new\n")),
        ("added", ["x"], FRONT + "added: [x]\n"),
    ],
)
def test_set_key_changes_only_that_key(key: str, value: object, expected: str) -> None:
    result = yamlio.set_key(FRONT, key, value)
    assert result == expected
    loaded = yaml.safe_load(result)
    assert loaded[key] == value
    before = yaml.safe_load(FRONT)
    assert {k: v for k, v in loaded.items() if k != key} == {
        k: v for k, v in before.items() if k != key
    }


def test_set_key_edge_cases() -> None:
    assert yamlio.set_key("", "a", 1) == "a: 1\n"
    assert yamlio.set_key("a: 1", "b", 2) == "a: 1\nb: 2\n"
    assert yamlio.set_key("a: 1\r\nb: 2\r\n", "a", 5) == "a: 5\r\nb: 2\r\n"
    # with a duplicated key, the one the loader uses (the last) is edited
    assert yamlio.set_key("a: 1\na: 2\n", "a", 9) == "a: 1\na: 9\n"
    # a nested key of the same name is not a top-level key
    assert yamlio.set_key("m:\n  a: 1\n", "a", 2) == "m:\n  a: 1\na: 2\n"
    assert "malformed YAML" in error(yamlio.set_key, "a: [\n", "a", 1)
    assert "not a mapping" in error(yamlio.set_key, "- a\n", "a", 1)
