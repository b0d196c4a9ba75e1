"""Command line: ``python -m pytest_mlonmcu install {etiss,tflm} ...``.

install etiss [--source SRC] [--install-dir DIR] [--apt]
install tflm [--target NAME] [--feature cmsisnn] [--config KEY=VALUE] [--source SRC]
install zephyr [--base DIR] [--source SRC] [--modules DIRS]
history [--db PATH|URL] [--metric NAME ...] [--since REV] [--last N] [--plots DIR]
report RESULTS.json ... [--markdown] [--update README.md | --check README.md]
check MODEL.tflite [--backend NAMES] [--target NAME] [--config KEY=VALUE]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from .core.config import RunConfig
from .core.errors import MlonmcuError, UsageError


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


def _install_tflm(args: argparse.Namespace) -> int:
    from .backends import BACKENDS, register_builtin_backends
    from .backends.tflmi.library import ensure_tflm_library, spec_for_target
    from .core.cache import Cache
    from .core.config import parse_assignments
    from .core.errors import UsageError
    from .features import check_features, register_builtin_features
    from .platforms.mlif.target import CompiledTarget
    from .targets import TARGETS, register_builtin_targets

    register_builtin_backends()
    register_builtin_targets()
    register_builtin_features()
    config = RunConfig(parse_assignments(args.config or [], "--config"))
    if args.source:
        config.set("tflm.source", args.source)
    features = tuple(args.feature or [])
    target_cls = TARGETS.get(args.target)
    check_features(features, BACKENDS.get("tflmi"), target_cls)  # cmsisnn: Cortex-M only
    target = target_cls(config.scoped(args.target), Cache(), features)
    if not isinstance(target, CompiledTarget) or target.family == "x86":
        raise UsageError(f"target {args.target}: tflmi runs the tflite-micro wheel there")
    spec = spec_for_target(target, features)
    lib = ensure_tflm_library(spec, config.scoped("tflm"), progress=_progress)
    state = "cached" if lib.cached else f"built in {lib.build_seconds:.0f} s"
    print(f"tflm[{spec.label}]: ready ({state}): {lib.archive}")
    return 0


def _install_zephyr(args: argparse.Namespace) -> int:
    from .install.zephyr import ensure_zephyr, missing_host_tools, missing_python_modules

    config = RunConfig()
    for key in ("base", "source", "modules"):
        if getattr(args, key):
            config.set(f"zephyr.{key}", getattr(args, key))
    install = ensure_zephyr(config.scoped("zephyr"), _progress)
    print(f"zephyr {install.version}: ready: {install.base} ({install.origin})")
    for name, path in sorted(install.modules.items()):
        print(f"  module {name}: {path}")
    print(
        f"  west workspace: {install.topdir if install.is_west_workspace else 'no (cmake + ninja)'}"
    )
    tools, mods = missing_host_tools(), missing_python_modules()
    if tools:
        print(f"  missing for builds: apt-get install {' '.join(tools)}")
    if mods:
        print(f"  missing for builds: pip install {' '.join(mods)}")
    return 0


def _history(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .history import location, stored_runs
    from .history.store import commits_since
    from .history.view import history_table, write_trend_plots

    cwd = Path.cwd()
    where = location(args.db, cwd)
    if where is None:
        raise UsageError("history: --db is off")
    commits = commits_since(args.since, cwd) if args.since else None
    runs = stored_runs(where, commits)
    metrics = args.metric or ["invoke_instructions"]
    print(f"results history: {where} ({len({r.session for r in runs})} sessions)")
    for metric in metrics:
        print()
        print("\n".join(history_table(runs, metric, args.last)))
    if args.plots != "off":
        for path in write_trend_plots(runs, metrics, Path(args.plots)):
            print(f"trend plot: {path}")
    return 0


def _report(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .results_tables import all_tables, load_sessions, readme_blocks, update_readme

    tables = all_tables(load_sessions(Path(p) for p in args.results))
    if not tables:
        raise UsageError("report: no table has all its sessions among the given files")
    if args.check or args.update:
        readme = Path(args.check or args.update)
        text = readme.read_text()
        new, done = update_readme(text, tables)
        if args.update:
            readme.write_text(new)
            print(f"report: {readme}: {', '.join(done) or 'no marked table'} written")
            return 0
        stale = [n for n in done if readme_blocks(text)[n] != readme_blocks(new)[n]]
        for name in stale:
            print(f"report: {readme}: table {name} differs from the results")
        print(f"report: {readme}: {len(done) - len(stale)} of {len(done)} tables up to date")
        return 1 if stale else 0
    for name, lines in tables.items():
        print(f"<!-- report:{name} -->")
        print("\n".join(lines))
        print(f"<!-- /report:{name} -->\n")
    return 0


def _check(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .backends import BACKENDS, register_builtin_backends
    from .core.config import parse_assignments
    from .support_check import check_model
    from .targets import TARGETS, register_builtin_targets

    register_builtin_backends()
    register_builtin_targets()
    names = [n for n in (args.backend or "").split(",") if n]
    backends = [BACKENDS.get(n) for n in names] if names else list(BACKENDS)
    config = RunConfig(parse_assignments(args.config or [], "--config"))
    lines, able = check_model(Path(args.model), backends, TARGETS.get(args.target), config)
    print("\n".join(lines))
    return 0 if able else 1


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

    tflm = components.add_parser(
        "tflm", help="the TensorFlow Lite Micro library for a target (once per variant)"
    )
    tflm.add_argument("--target", default="etiss", help="target whose flags to use (etiss)")
    tflm.add_argument(
        "--feature", action="append", help="e.g. cmsisnn (Cortex-M targets); repeatable"
    )
    tflm.add_argument(
        "--config",
        action="append",
        metavar="KEY=VALUE",
        help="target settings, e.g. cortexm_qemu.cpu=cortex-m7; repeatable",
    )
    tflm.add_argument(
        "--source",
        help="TFLM tarball or directory (default: $MLONMCU_TFLM_SOURCE, "
        "$MLONMCU_VENDOR_DIR/tflm-90b983c2-src.tar.xz, then upstream at the pinned commit)",
    )
    tflm.set_defaults(func=_install_tflm)

    zephyr = components.add_parser(
        "zephyr", help="Zephyr 4.3.0 and its modules for the zephyr platform (once)"
    )
    zephyr.add_argument(
        "--base", help="use an existing Zephyr (its zephyr/ folder; default: $ZEPHYR_BASE)"
    )
    zephyr.add_argument(
        "--source",
        help="tarball or workspace directory (default: $MLONMCU_ZEPHYR_SOURCE, "
        "$MLONMCU_VENDOR_DIR/zephyr-4.3.0-subset.tar.xz, then west init/update from upstream)",
    )
    zephyr.add_argument("--modules", help="module folders, ';'-separated (with --base)")
    zephyr.set_defaults(func=_install_zephyr)

    history = commands.add_parser(
        "history", help="a metric of the stored sessions across commits (with deltas, plots)"
    )
    history.add_argument(
        "--db", help="the results database: a path or SQLAlchemy URL "
        "(default .mlonmcu/history.sqlite here)",
    )  # fmt: skip
    history.add_argument(
        "--metric", action="append", help="metric to show (invoke_instructions); repeatable"
    )
    history.add_argument("--since", metavar="REV", help="only REV and the commits after it")
    history.add_argument(
        "--last", type=int, default=6, help="columns: the last N commits (0: all; 6)"
    )
    history.add_argument(
        "--plots", default=".mlonmcu/history", help="directory for trend plots, or off"
    )
    history.set_defaults(func=_history)

    report = commands.add_parser(
        "report", help="the README's result tables from results JSON files (one per session)"
    )
    report.add_argument("results", nargs="+", help="results JSON files (--mlonmcu-json)")
    report.add_argument(
        "--markdown", action="store_true", help="Markdown tables (the only format; default)"
    )
    where = report.add_mutually_exclusive_group()
    where.add_argument("--update", metavar="README", help="rewrite the README's marked tables")
    where.add_argument(
        "--check", metavar="README", help="exit 1 when a marked table differs from the results"
    )
    report.set_defaults(func=_report)

    check = commands.add_parser(
        "check", help="which backends can build a model (operator x backend), nothing run"
    )
    check.add_argument("model", metavar="MODEL.tflite")
    check.add_argument("--backend", help="comma-separated backends (default: all registered)")
    check.add_argument(
        "--target", default="riscv_qemu", help="the target to build for (default riscv_qemu)"
    )
    check.add_argument(
        "--config", action="append", metavar="KEY=VALUE",
        help="settings, e.g. tflm.source=DIR; repeatable",
    )  # fmt: skip
    check.set_defaults(func=_check)
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
