"""Command line: ``python -m pytest_mlonmcu install etiss [--source SRC] [--apt]``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from .config import RunConfig
from .errors import MlonmcuError


def _progress(line: str) -> None:
    print(line, flush=True)


def _install_etiss(args: argparse.Namespace) -> int:
    from .install.etiss import ensure_etiss

    config = RunConfig()
    if args.source:
        config.set("etiss.source", args.source)
    if args.install_dir:
        config.set("etiss.install_dir", args.install_dir)
    install = ensure_etiss(config.scoped("etiss"), _progress, apt=args.apt)
    print(f"etiss: ready: {install.prefix}")
    print(f"  processor: {install.processor}")
    print(f"  base.ini:  {install.base_ini}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m pytest_mlonmcu")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    install = commands.add_parser("install", help="build a component from pinned source (once)")
    components = install.add_subparsers(dest="component", required=True, metavar="COMPONENT")

    etiss = components.add_parser("etiss", help="the ETISS RV32 instruction-set simulator")
    etiss.add_argument(
        "--source",
        help="tarball, source directory or URL@COMMIT (default: $MLONMCU_ETISS_SOURCE, "
        "$MLONMCU_VENDOR_DIR/etiss-b52f8a04-src.tar.xz, then upstream at the pinned commit)",
    )
    etiss.add_argument("--install-dir", help="check an existing installation instead of building")
    etiss.add_argument(
        "--apt", action="store_true", help="apt-get install missing build dependencies (root)"
    )
    etiss.set_defaults(func=_install_etiss)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except MlonmcuError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
