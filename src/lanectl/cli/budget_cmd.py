"""``lanectl budget``: use per budget, agent and task; throttling; estimated cost."""

import sys
from typing import Annotated

import typer

from lanectl.cli.common import JsonFlag, as_json, emit_json, workspace


def register(app: typer.Typer) -> None:
    @app.command("budget")
    def budget(ctx: typer.Context, json_out: Annotated[bool, JsonFlag] = False) -> None:
        """Show requests, tokens, cache hits, throttle time, 429/529s and cost per budget."""
        from lanectl import budgetreport, budgetstore

        ws = workspace(ctx)
        path = budgetstore.store_path(ws.private_dir)
        usage: list[dict[str, object]] = []
        now: dict[str, dict[str, object]] = {}
        if path.exists():
            store = budgetstore.BudgetStore(path)
            usage = store.usage()
            for name in sorted({str(row["budget"]) for row in usage}):
                now[name] = store.snapshot(name)
            store.close()
        cache = None
        responses = ws.private_dir / "responses.sqlite"
        if responses.exists():
            from lanectl.respcache import ResponseCache

            rc = ResponseCache(responses)
            cache = rc.stats()
            rc.close()
        prices = ws.raw_config.get("prices")
        report = budgetreport.build(usage, prices if isinstance(prices, dict) else {}, now, cache)
        if as_json(ctx, json_out):
            emit_json(report)
        else:
            sys.stdout.write(budgetreport.render(report))
