"""The one handler around every command (STYLE §6): known errors become one
line and an exit code, Ctrl-C is 130, anything else is a short message with a
crash log written under the git common dir (no locals, no secrets)."""

from __future__ import annotations

import os
import sys
import tempfile
import traceback
from pathlib import Path

import typer

from lanectl.errors import EXIT_ERROR, EXIT_INTERRUPTED, LaneError


def _verbose(argv: list[str]) -> bool:
    return "-v" in argv or "--verbose" in argv


def _crash_log() -> Path:
    base = Path(os.environ.get("LANECTL_HOME") or tempfile.gettempdir())
    try:
        from lanectl.git import discover

        _, common = discover(Path.cwd())
        base = common / "lanectl"
    except Exception:  # noqa: S110 - any failure here just means "use the temp dir"
        pass
    base.mkdir(parents=True, exist_ok=True)
    return base / "crash.log"


def run(app: typer.Typer, argv: list[str] | None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        app(args=args, prog_name="lanectl")
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if code == EXIT_INTERRUPTED:  # typer turns Ctrl-C into exit 130
            sys.stderr.write("lanectl: interrupted\n")
        return code
    except LaneError as exc:
        if _verbose(args):
            traceback.print_exc()
        sys.stderr.write(f"lanectl: {exc}\n")
        return exc.exit_code
    except (KeyboardInterrupt, typer.Abort):
        sys.stderr.write("lanectl: interrupted\n")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        sys.stderr.close()
        return 0
    except Exception:
        if _verbose(args):
            traceback.print_exc()
            return EXIT_ERROR
        log = _crash_log()
        with open(log, "a", encoding="utf-8") as handle:
            handle.write(f"--- lanectl {' '.join(args[:1])}\n")
            handle.write(traceback.format_exc(limit=30))
        sys.stderr.write(
            f"lanectl: unexpected error ({sys.exc_info()[0].__name__}); "  # type: ignore[union-attr]
            f"details in {log}. Please report it.\n"
        )
        return EXIT_ERROR
    return 0
