"""``lanectl sim serve``: the vendor simulator on loopback, until Ctrl-C."""

import signal
import sys
import threading
from pathlib import Path
from typing import Annotated

import typer

DEFAULT_PORT = 8765  # fixed, so a rehearsal config can name it in base_url

app = typer.Typer(
    name="sim",
    help="A local stand-in for the Anthropic and OpenAI APIs: rehearse an org config offline.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


@app.command("serve")
def serve(
    config: Annotated[
        Path | None,
        typer.Option("--config", help="Simulator YAML (keys, budgets, script); see templates."),
    ] = None,
    port: Annotated[int, typer.Option("--port", help="Port (0: any free port).")] = DEFAULT_PORT,
    host: Annotated[str, typer.Option("--host", help="Loopback address to listen on.")] = (
        "127.0.0.1"
    ),
) -> None:
    """Serve Anthropic /v1/messages and OpenAI /v1/chat/completions until Ctrl-C."""
    from lanectl.sim import SimConfig, Simulator, load_config

    cfg = load_config(config) if config is not None else SimConfig.default()
    sim = Simulator(cfg, host=host, port=port).start()
    signal.signal(signal.SIGTERM, _interrupt)  # `kill` stops it as cleanly as Ctrl-C
    try:
        for line in describe(sim):
            print(line)
        sys.stdout.flush()
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        stats = sim.stats()
        sim.stop()
    sys.stderr.write(
        f"lanectl sim: stopped after {stats['requests']} requests "
        f"({stats['retries']} retries, {stats['rate_limited']} answered 429, "
        f"{stats['overloaded']} overloaded)\n"
    )


@app.command("use")
def use(
    ctx: typer.Context,
    url: Annotated[
        str, typer.Argument(help="The simulator's address (printed by `lanectl sim serve`).")
    ] = f"http://127.0.0.1:{DEFAULT_PORT}",
    time_scale: Annotated[
        float, typer.Option("--time-scale", min=0.001, help="The simulator's time_scale.")
    ] = 1.0,
) -> None:
    """Point every budget in .lanes/config.yaml at the simulator, to rehearse offline.

    Rewrites each model budget's base_url (and any agent's own base_url) in
    the work tree's config and prints the fake keys to export. It is policy:
    commit it to the base branch of a rehearsal repository.
    """
    from lanectl import simuse
    from lanectl.cli.common import workspace
    from lanectl.state import atomic_write

    ws = workspace(ctx)
    path = ws.root / ".lanes" / "config.yaml"
    pointed = simuse.point(path.read_text(encoding="utf-8"), url, time_scale=time_scale)
    atomic_write(path, pointed.text)
    if not simuse.answers(url):
        print(f"lanectl: nothing answers at {url} yet: start it with `lanectl sim serve`")
    print(f"Pointed {len(pointed.changed)} entries of .lanes/config.yaml at the simulator:")
    for name, base in pointed.changed:
        print(f"  {name:<18} base_url: {base}")
    if pointed.exports:
        print("Give the budgets the simulator's keys (fake ones) in this shell:")
        print("  export " + " ".join(f"{k}={v}" for k, v in pointed.exports))
    print("It is policy: commit it (git add .lanes/config.yaml && git commit).")


@app.command("example")
def example() -> None:
    """Print an annotated simulator config (keys, limits, faults, a script) to start from."""
    from lanectl import templates

    sys.stdout.write(templates.shipped("sim.yaml"))


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def describe(sim: object) -> list[str]:
    """What to tell the person who started the simulator: URLs, env vars, keys."""
    from lanectl.sim import Simulator
    from lanectl.sim.stats import label

    assert isinstance(sim, Simulator)
    lines = [
        f"lanectl sim: Anthropic at {sim.anthropic_url}, OpenAI at {sim.openai_url}",
        "Point the SDKs and agent CLIs at it:",
        f"  export ANTHROPIC_BASE_URL={sim.anthropic_url}",
        f"  export OPENAI_BASE_URL={sim.openai_url}",
    ]
    tail = [
        "In .lanes/config.yaml, give each budget that should use it:",
        f"  base_url: {sim.anthropic_url}      (anthropic)",
        f"  base_url: {sim.openai_url}   (openai, openai-compatible)",
    ]
    for vendor, env in (("anthropic", "ANTHROPIC_API_KEY"), ("openai", "OPENAI_API_KEY")):
        keys = [k for k in sim.config.keys.values() if k.vendor == vendor]
        if len(keys) == 1 and label(keys[0].key) == keys[0].key:
            lines.append(f"  export {env}={keys[0].key}")
    for key in sim.config.keys.values():
        limits = [
            f"{value:,} {name.replace('_', ' ')}"
            for name, value in (
                ("rpm", key.rpm), ("input_tpm", key.input_tpm),
                ("output_tpm", key.output_tpm), ("tpm", key.tpm),
            )
            if value is not None
        ]  # fmt: skip
        extra = f", {key.outside_fraction:.0%} drained by an outside consumer"
        lines.append(
            f"Key {label(key.key)} ({key.vendor}): {', '.join(limits) or 'no limits'}"
            + (extra if key.outside_fraction else "")
        )
    lines += tail
    if sim.time_scale != 1.0:
        lines.append(
            f"Time runs {sim.time_scale:g}× faster than the wall clock: "
            f"add time_scale: {sim.time_scale:g} to those budgets."
        )
    lines.append(f"Counts: {sim.url}/_sim/stats · Ctrl-C to stop.")
    return lines
