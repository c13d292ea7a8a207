"""The `starbackup` command: serve, audit. (The demo is `bash dev/demo.sh`: dev/demo.py.)"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path
from typing import Any


def main(argv: list[str] | None = None, **daemon_options: Any) -> int:
    """`daemon_options` go to `Daemon` (tests pass a decorated storage factory: tests/support/faulty_serve.py)."""
    parser = argparse.ArgumentParser(prog="starbackup", description="StarRocks-compatible BACKUP/RESTORE daemon")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the daemon (MySQL protocol)")
    serve.add_argument("--data-dir", required=True)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=9030)
    serve.add_argument("--backends", type=int, default=3)
    secret = serve.add_mutually_exclusive_group()
    secret.add_argument("--root-password", default=None,
                        help="root's password (visible in ps: prefer --root-password-file or $STARBACKUP_ROOT_PASSWORD)")
    secret.add_argument("--root-password-file", default=None,
                        help="file holding root's password (its first line; not shown in ps)")
    serve.add_argument("--config", default=None, help="file of `key = value` lines (FE/BE settings)")

    audit = sub.add_parser("audit", help="verify the event log and print its history")
    audit.add_argument("--data-dir", required=True)
    audit.add_argument("--until-seq", type=int, default=None)

    args = parser.parse_args(argv)
    if args.command == "serve":
        return _serve(args, **daemon_options)
    if args.command == "audit":
        from storage.audit import run_audit

        return run_audit(args.data_dir, until_seq=args.until_seq)
    return 2


def _serve(args: argparse.Namespace, **daemon_options: Any) -> int:
    from sqlfront.daemon import ConfigError, Daemon, read_config_file, root_password_hash, setup_logging
    from storage.eventlog import LogIntegrityError

    try:
        config = read_config_file(args.config) if args.config else {}
        password_hash, warnings = root_password_hash(args.root_password, args.root_password_file, config,
                                                     args.config)
    except (ConfigError, OSError) as e:
        print(f"starbackup: {e}", file=sys.stderr)
        return 2
    if args.root_password is not None:  # ps shows 'x's in its place from now on
        _scrub_password_argument(args.root_password)
    if args.backends < 1:
        print("starbackup: --backends must be at least 1", file=sys.stderr)
        return 2
    setup_logging(Path(args.data_dir))
    for warning in warnings:
        logging.getLogger("starbackup.daemon").warning("%s", warning)
    daemon = Daemon(args.data_dir, args.host, args.port, args.backends, password_hash, config,
                    **daemon_options)
    try:
        asyncio.run(daemon.serve())
    except ConfigError as e:
        print(f"starbackup: {e}", file=sys.stderr)
        return 1
    except LogIntegrityError as e:  # the frontend refused an untrusted log: one line, no traceback
        daemon.shutdown()
        logging.getLogger("starbackup").error("%s", e.refusal(args.data_dir))
        return 1
    except OSError as e:
        print(f"starbackup: cannot listen on {args.host}:{args.port}: {e}", file=sys.stderr)
        daemon.shutdown()
        return 1
    return 0


def _scrub_password_argument(password: str) -> None:
    from sqlfront.daemon import scrub_process_block

    value = password.encode()
    if not value:
        return
    option = b"--root-password="
    scrub_process_block("arg", lambda entry: entry == value, keep=0)  # `--root-password PW`
    scrub_process_block("arg", lambda entry: entry == option + value, keep=len(option))  # `--root-password=PW`


if __name__ == "__main__":
    sys.exit(main())
