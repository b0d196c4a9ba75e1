"""pytest-mlonmcu's pytest hooks and options (the rest lives in its own modules)."""

from __future__ import annotations

import pytest

from . import exporters, farm, gates, hardware, hookspec, options
from .backends import BACKENDS, register_builtin_backends
from .core.case import Case
from .core.errors import MlonmcuError
from .features import FEATURES, register_builtin_features
from .fixtures import (  # noqa: F401  (fixtures are collected from this module)
    CASE_KEY,
    RESULTS_KEY,
    RUN_DIRS_KEY,
    RUN_KEY,
    SETTINGS_KEY,
    mlonmcu_backend,
    mlonmcu_case,
    mlonmcu_model,
    mlonmcu_run,
    mlonmcu_target,
    model_resolver,
    skipping_unattached_boards,
)
from .listing import describe_components
from .matrix import expand
from .report import operator_table, summary_table
from .rundirs import RunDirs, new_session_id
from .session import SessionResults, attach_case, attach_record, make_record
from .settings import SessionSettings, session_boards
from .targets import TARGETS, register_builtin_targets

MARKERS = [
    "mlonmcu(models=None, backends=None, targets=None, features=None): narrow the benchmark "
    "matrix of this test",
    "hardware(board): needs the named board, attached (--mlonmcu-board NAME[=PORT]) and "
    "reachable; a benchmark test runs on that board",
    "slow: a long test (deselect with -m 'not slow')",
    gates.MARKER_HELP,
]
SESSION_ID_KEY = "mlonmcu_session"  # workerinput: the controller's session id
OUTCOME_KEY = pytest.StashKey[list[pytest.TestReport]]()
WRITTEN_KEY = pytest.StashKey[list[str]]()  # report files written at sessionfinish


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(hookspec)


def pytest_addoption(parser: pytest.Parser) -> None:
    options.add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    for marker in MARKERS:
        config.addinivalue_line("markers", marker)
    try:
        # The session's boards first: every board is a target (and mlonmcu.yml may add boards).
        yml = options.load_yml(config)
        boards = session_boards(config, yml)
        register_builtin_backends()
        register_builtin_targets(boards)
        register_builtin_features()
        config.hook.pytest_mlonmcu_register(backends=BACKENDS, targets=TARGETS, features=FEATURES)
        settings = SessionSettings.from_pytest(config, yml, boards)
        settings.check_features(known=FEATURES.names())
        config.stash[gates.GATES_KEY] = gates.GateSettings.from_pytest(config, settings.yml)
        config.stash[exporters.REPORTS_KEY] = exporters.ReportSettings.from_pytest(
            config, settings.yml
        )
    except MlonmcuError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[SETTINGS_KEY] = settings
    # xdist workers share the controller's session id (their run folders are one session's).
    session_id = getattr(config, "workerinput", {}).get(SESSION_ID_KEY) or new_session_id()
    config.stash[RUN_DIRS_KEY] = RunDirs(settings.out_dir, session_id)
    config.stash[RESULTS_KEY] = SessionResults()
    if not hasattr(config, "workerinput"):  # gathers the records of every process
        farm.keep_records_when_a_host_dies(config)  # before xdist's session reads it
        config.pluginmanager.register(config.stash[RESULTS_KEY], "mlonmcu-results")
        if config.getoption("mlonmcu_fetch_artifacts"):
            config.pluginmanager.register(farm.ArtifactFetcher(settings.out_dir), "mlonmcu-fetch")
    if config.getoption("mlonmcu_list"):
        known = model_resolver(config).known_names()
        print("\n".join(describe_components(BACKENDS, TARGETS, FEATURES, known)))
        pytest.exit("listed the pytest-mlonmcu components", returncode=0)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "mlonmcu_case" not in metafunc.fixturenames:
        return
    settings = metafunc.config.stash[SETTINGS_KEY]
    try:
        # A hardware test runs on its board (the board's target), when that is attached.
        settings, marker = hardware.matrix_for(
            settings,
            metafunc.definition.get_closest_marker("mlonmcu"),
            metafunc.definition.get_closest_marker("hardware"),
        )
        cases = expand(settings, marker)
    except MlonmcuError as exc:
        raise pytest.UsageError(str(exc)) from None
    metafunc.parametrize("mlonmcu_case", cases, ids=[c.id for c in cases], indirect=True)


@pytest.hookimpl(tryfirst=True)  # before xdist's loadgroup reads the xdist_group markers
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    farm.group_by_variant(config, items)
    farm.longest_first(config, items)


def pytest_runtest_setup(item: pytest.Item) -> None:
    # Skips unless the marker's board is attached and reachable (hardware.py).
    hardware.check_item(item, item.config.stash[SETTINGS_KEY])


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node) -> None:
    # xdist controller: workers compare with the baseline the controller read.
    gates.configure_node(node)
    settings = node.config.stash.get(SETTINGS_KEY, None)
    if settings is not None:
        farm.configure_node(node, settings.cache.root)
    run_dirs = node.config.stash.get(RUN_DIRS_KEY, None)
    if run_dirs is not None:
        node.workerinput[SESSION_ID_KEY] = run_dirs.session


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    # A run on a board that is not attached is skipped (it compiled: its metrics are kept).
    # Budgets and baseline rules are checked after the test body, in the process that ran
    # it, so a violation is this test's failure (the same verdict with or without xdist).
    try:
        with skipping_unattached_boards():
            result = yield
    except Exception as exc:  # a farm's failure says on which host (a tool missing there)
        farm.name_host(exc, item.config, item.config.stash[SETTINGS_KEY].cache.root)
        raise
    run = item.stash.get(RUN_KEY, None)
    if run is not None:
        gates.check_item(item, run)
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    callspec = getattr(item, "callspec", None)
    case = callspec.params.get("mlonmcu_case") if callspec else None
    if not isinstance(case, Case):  # not a matrix test, or an empty matrix (NOTSET)
        return report
    phases = item.stash.setdefault(OUTCOME_KEY, [])
    phases.append(report)
    if report.when == "setup":
        attach_case(report, case)  # names the case should the worker die during the test
    if report.when == "teardown":
        outcome, reason = "passed", ""
        for rep in phases:
            if rep.failed:
                outcome = "failed"
                reason = _short_reason(rep)
                break
            if rep.skipped:
                outcome = "skipped"
                reason = _short_reason(rep)
        run = item.stash.get(RUN_KEY, None)
        extra = {
            **gates.record_fields(item),
            "ran_on": farm.ran_on(item.config, item.config.stash[SETTINGS_KEY].cache.root),
        }
        record = make_record(run, case, outcome, reason, item.nodeid, extra)
        attach_record(report, record)  # travels with the report (session.py)
        if item.config.getoption("mlonmcu_fetch_artifacts") and extra["ran_on"]["remote"]:
            if run is not None and run.artifacts_dir.is_dir():
                setattr(report, farm.ARTIFACTS_ATTR, farm.pack_artifacts(run.artifacts_dir))
    return report


def _short_reason(report: pytest.TestReport) -> str:
    if report.skipped and isinstance(report.longrepr, tuple):
        return str(report.longrepr[2]).removeprefix("Skipped: ")
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None:
        # pytest.fail(..., pytrace=False) (e.g. a gate): the message without "Failed: "
        return crash.message.removeprefix("Failed: ")[:2000]
    return str(report.longrepr)[-2000:]


def pytest_sessionfinish(session: pytest.Session) -> None:
    config = session.config
    if RESULTS_KEY not in config.stash:
        return
    results = config.stash[RESULTS_KEY]
    if hasattr(config, "workerinput"):
        return  # its records went to the controller with each test's report
    path = config.stash[SETTINGS_KEY].json_path
    if path is not None:
        results.write_json(path)
    records = results.sorted_records()
    farm.remember_run_seconds(config.stash[SETTINGS_KEY].cache.root, records)
    gate_settings = config.stash[gates.GATES_KEY]
    written = []
    if gate_settings.save_baseline is not None:
        written += gates.write_baseline(records, gate_settings.save_baseline)
    written += exporters.write_reports(records, config.stash[exporters.REPORTS_KEY], gate_settings)
    plots = exporters.write_operator_plots(records, config.stash[SETTINGS_KEY].out_dir)
    if plots:
        written.append(f"operator plots: {', '.join(str(p) for p in plots)}")
    config.stash[WRITTEN_KEY] = written


def pytest_unconfigure(config: pytest.Config) -> None:
    run_dirs = config.stash.get(RUN_DIRS_KEY, None)
    if run_dirs is not None:
        run_dirs.close()


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    if RESULTS_KEY not in config.stash or hasattr(config, "workerinput"):
        return
    records = config.stash[RESULTS_KEY].sorted_records()
    verbosity = config.get_verbosity()
    if not records or verbosity < -1:
        return
    terminalreporter.write_sep("=", "mlonmcu results")
    columns = exporters.terminal_columns(records, verbosity, config.stash[exporters.REPORTS_KEY])
    for line in summary_table(records, verbosity, columns):
        terminalreporter.write_line(line)
    path = config.stash[SETTINGS_KEY].json_path
    if path is not None:
        terminalreporter.write_line(f"results JSON: {path}")
    for line in config.stash.get(WRITTEN_KEY, []):
        terminalreporter.write_line(line)
    profiled = [r for r in records if r.get("operators")]
    if profiled and verbosity > 0:  # feature profile
        terminalreporter.write_sep("=", "mlonmcu operators")
        for record in profiled:
            terminalreporter.write_line(f"{record['id']}:")
            for line in operator_table(record):
                terminalreporter.write_line("  " + line)
    gate_lines = gates.summary_lines(records, config.stash[gates.GATES_KEY], verbosity)
    if gate_lines:
        terminalreporter.write_sep("=", "mlonmcu gates")
        for line in gate_lines:
            terminalreporter.write_line(line)
