"""The CLI side of --demo, --discover and --check: flag rules, printing and exit codes.

Each command imports its modules when it runs: a plain sync (and --help) never loads
--check's, --discover's or --demo's code, nor the database layer before it needs it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from app.commands.console import print_json
from app.errors import ConfigError
from app.logging_setup import CLI_CONSOLE, setup_logging
from app.masking import mask
from app.messages import say

if TYPE_CHECKING:
    from app.config import Settings


def check_flags(args: argparse.Namespace) -> None:
    """Reject flag combinations that make no sense, naming them (exit 2)."""
    modes = [flag for flag, on in (("--demo", args.demo), ("--discover", args.discover),
                                   ("--check", args.check), ("--init-db", args.init_db)) if on]
    if len(modes) > 1:
        raise ConfigError(say("flags.combined", flags=say("flags.and").join(modes)))
    stray = [flag for flag, given, allowed in (
        ("--write", args.write is not None, args.discover),
        ("--force", args.force, args.write is not None),
        ("--entity-type-id", bool(args.entity_type_id), args.discover),
        ("--demo-db", args.demo_db is not None, args.demo),
        ("--dry-run", args.dry_run, not (args.discover or args.check or args.init_db)),
        # The demo reads no settings at all; saying otherwise would mislead.
        ("--webhook-url", bool(args.webhook_url), not args.demo),
        ("--env-file", args.env_file is not None, not args.demo),
    ) if given and not allowed]
    if stray:
        raise ConfigError(say("flags.stray", flags=", ".join(stray)))


def demo(args: argparse.Namespace) -> int:
    """--demo: sync the built-in demo portal into a SQLite file and say where it is."""
    from app.commands.demo import DEFAULT_DEMO_DB, run_demo
    from app.commands.progress import live_progress, progress_wanted
    from app.sync.runner import RunOptions

    options = RunOptions(names=tuple(args.sync or ()), dry_run=args.dry_run, trigger="demo",
                         allow_mass_deactivation=args.allow_mass_deactivation)
    with live_progress(progress_wanted(quiet=args.quiet)) as progress:
        result = run_demo(args.demo_db or DEFAULT_DEMO_DB, options, progress=progress)
    if args.json:
        print_json(result.to_dict())
    else:
        print(mask(result.render()))
        if args.dry_run and args.verbose:
            print(mask(result.report.render_planned()))
        if result.report.fatal:
            print(mask(say("error", text=result.report.fatal)), file=sys.stderr)
    return result.report.exit_code


def discover(args: argparse.Namespace, settings: Settings) -> int:
    """--discover [--write PATH [--force]]: list what the webhook sees; draft mapping.toml."""
    from app.commands.discover import discover as discover_portal
    from app.commands.discover import make_client, mapping_skeleton, render_text, write_skeleton

    client = make_client(settings)
    try:
        found = discover_portal(client, entity_type_ids=tuple(args.entity_type_id or ()))
    finally:
        client.close()
    # Drafted always: drafting notes on the fields which plain ones hold another
    # directory's ids, and the listing shows those notes too.
    skeleton = mapping_skeleton(found)
    if args.write is not None:
        write_skeleton(args.write, mask(skeleton), force=args.force)
    if args.json:
        data = found.to_dict()
        if args.write is not None:
            data["written"] = str(args.write)
        print_json(data)
        return 0
    print(mask(render_text(found)))
    print("\n" + (say("discover.written", path=args.write) if args.write is not None
                   else say("discover.next")))
    return 0


def check(args: argparse.Namespace, load: Callable[..., Settings]) -> int:
    """--check: print the checklist; exit 0, 2 (settings, mapping, schema) or 3 (connection)."""
    from app.commands.check import run_check

    def settings() -> Settings:
        loaded = load()
        setup_logging(loaded.log_level, log_file=loaded.log_file, verbose=args.verbose,
                      console_level=CLI_CONSOLE)
        return loaded

    report = run_check(settings, tuple(args.sync or ()))
    if args.json:
        print_json(report.to_dict())
    else:
        print(report.render())
    return report.exit_code
