from __future__ import annotations

from lanectl.cli import main

main()
