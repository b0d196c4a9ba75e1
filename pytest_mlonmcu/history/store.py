"""The results history: every session's runs appended to a database, keyed by commit.

By default a SQLite file (``.mlonmcu/history.sqlite`` under pytest's rootdir, stdlib
``sqlite3``); ``--mlonmcu-history=URL`` with a ``scheme://`` names any database SQLAlchemy
reaches (PostgreSQL for a team), ``off`` turns it off. The schema is the two tables below;
the same SQL (named parameters) runs on both drivers.

A session row says when, on which commit (and whether the tree was dirty), on which machine,
with which tool versions; a run row holds the record's identity, outcome and metrics (JSON).
``python -m pytest_mlonmcu history`` prints a metric across commits with deltas and writes
trend plots; ``--mlonmcu-compare=history:REV`` gates against the runs stored for a commit.
"""

from __future__ import annotations

import contextlib
import json
import platform
import socket
import sqlite3
import subprocess
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from ..core.errors import UsageError
from ..core.records import RunRecord

DEFAULT_PATH = ".mlonmcu/history.sqlite"
OFF = ("off", "none", "no", "false", "0")
PREFIX = "history:"  # --mlonmcu-compare=history:REV

SCHEMA = [
    """CREATE TABLE IF NOT EXISTS sessions (
        id INTEGER PRIMARY KEY,
        started REAL NOT NULL,
        commit_sha TEXT,
        dirty INTEGER NOT NULL,
        machine TEXT NOT NULL,
        versions TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS runs (
        session_id INTEGER NOT NULL REFERENCES sessions(id),
        run_id TEXT NOT NULL,
        nodeid TEXT NOT NULL,
        model TEXT NOT NULL,
        backend TEXT NOT NULL,
        target TEXT NOT NULL,
        features TEXT NOT NULL,
        outcome TEXT NOT NULL,
        metrics TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS runs_by_session ON runs (session_id)",
    "CREATE INDEX IF NOT EXISTS sessions_by_commit ON sessions (commit_sha)",
]
VERSIONED = ("pytest-mlonmcu", "pytest", "apache-tvm", "tflite-micro", "tensorflow-cpu")


# -- where it lives ------------------------------------------------------------------------
def location(value: str | None, rootdir: Path) -> str | None:
    """The database named by ``--mlonmcu-history`` (a path, a URL) or None when off."""
    if value is not None and value.strip().lower() in OFF:
        return None
    if value and "://" in value:
        return value
    path = Path(value or DEFAULT_PATH)
    return str(path if path.is_absolute() else (rootdir / path).resolve())


def check_location(where: str | None) -> None:
    """At configure time: a URL needs SQLAlchemy (a usage error now, not at the end)."""
    if where is not None and "://" in where:
        try:
            import sqlalchemy  # noqa: F401
        except ImportError:
            raise UsageError(
                f"--mlonmcu-history {where}: a database URL needs SQLAlchemy "
                "(pip install sqlalchemy and the database's driver)"
            ) from None


@contextlib.contextmanager
def connect(where: str) -> Iterator[Any]:
    """A DB-API-like connection with ``execute(sql, params)`` and ``commit()``."""
    if "://" in where:
        check_location(where)
        import sqlalchemy

        engine = sqlalchemy.create_engine(where)
        with engine.begin() as conn:
            yield _AlchemyConnection(conn, sqlalchemy.text)
        engine.dispose()
        return
    Path(where).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(where, timeout=60)  # concurrent sessions wait for each other
    try:
        with conn:  # one transaction: a session's rows all or none
            yield conn
    finally:
        conn.close()


@dataclass
class _AlchemyConnection:
    conn: Any
    text: Any

    def execute(self, sql: str, params: dict | None = None) -> Any:
        return self.conn.execute(self.text(sql), params or {})


def _create(conn: Any) -> None:
    for statement in SCHEMA:
        conn.execute(statement)


# -- writing -------------------------------------------------------------------------------
def git_state(cwd: Path) -> tuple[str | None, bool]:
    """(HEAD's commit or None outside git, whether tracked files differ from it)."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=30
        )
        if head.returncode != 0:
            return None, False
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=cwd, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return None, False
    return head.stdout.strip(), bool(status.stdout.strip())


def tool_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for dist in VERSIONED:
        with contextlib.suppress(metadata.PackageNotFoundError):
            out[dist] = metadata.version(dist)
    return out


def append_session(where: str, records: Iterable[RunRecord], cwd: Path) -> int:
    """Store one session's runs; returns how many."""
    commit, dirty = git_state(cwd)
    rows = [
        {
            "run_id": r["id"],
            "nodeid": r.get("nodeid", ""),
            "model": r["model"],
            "backend": r["backend"],
            "target": r["target"],
            "features": ",".join(r.get("features", [])),
            "outcome": r["outcome"],
            "metrics": json.dumps(r.get("metrics") or {}, sort_keys=True),
        }
        for r in records
    ]
    if not rows:
        return 0
    session = {
        "started": time.time(),
        "commit_sha": commit,
        "dirty": int(dirty),
        "machine": f"{socket.gethostname()} ({platform.machine()}, {platform.platform()})",
        "versions": json.dumps(tool_versions(), sort_keys=True),
    }
    with connect(where) as conn:
        _create(conn)
        conn.execute(
            "INSERT INTO sessions (started, commit_sha, dirty, machine, versions) "
            "VALUES (:started, :commit_sha, :dirty, :machine, :versions)",
            session,
        )
        session_id = conn.execute(
            "SELECT MAX(id) FROM sessions WHERE started = :started AND machine = :machine",
            session,
        ).fetchone()[0]
        for row in rows:
            conn.execute(
                "INSERT INTO runs (session_id, run_id, nodeid, model, backend, target, "
                "features, outcome, metrics) VALUES (:session_id, :run_id, :nodeid, :model, "
                ":backend, :target, :features, :outcome, :metrics)",
                {"session_id": session_id, **row},
            )
    return len(rows)


# -- reading -------------------------------------------------------------------------------
@dataclass(frozen=True)
class StoredRun:
    session: int
    started: float
    commit: str | None
    dirty: bool
    run_id: str
    nodeid: str
    outcome: str
    metrics: dict[str, Any]
    record: dict[str, Any]  # as a RunRecord (for baselines)


def stored_runs(where: str, commits: set[str] | None = None) -> list[StoredRun]:
    """Every stored run (of ``commits`` only, if given), oldest session first."""
    if "://" not in where and not Path(where).is_file():
        raise UsageError(f"no results history at {where} (a session writes it)")
    with connect(where) as conn:
        _create(conn)
        rows = conn.execute(
            "SELECT s.id, s.started, s.commit_sha, s.dirty, r.run_id, r.nodeid, r.model, "
            "r.backend, r.target, r.features, r.outcome, r.metrics FROM runs r "
            "JOIN sessions s ON s.id = r.session_id ORDER BY s.id, r.run_id"
        ).fetchall()
    out = []
    for sid, started, commit, dirty, run_id, nodeid, model, backend, target, feats, oc, m in rows:
        if commits is not None and commit not in commits:
            continue
        metrics = json.loads(m)
        features = feats.split(",") if feats else []
        record = {
            "id": run_id, "nodeid": nodeid, "model": model, "backend": backend,
            "target": target, "features": features, "outcome": oc, "metrics": metrics,
        }  # fmt: skip
        out.append(
            StoredRun(sid, started, commit, bool(dirty), run_id, nodeid, oc, metrics, record)
        )
    return out


def resolve_commit(rev: str, cwd: Path) -> str:
    result = subprocess.run(
        ["git", "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"],
        cwd=cwd, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    if result.returncode != 0:
        raise UsageError(f"history: {rev!r} is not a commit of the repository at {cwd}")
    return result.stdout.strip()


def commits_since(rev: str, cwd: Path) -> set[str]:
    """``rev`` and every commit after it up to HEAD."""
    base = resolve_commit(rev, cwd)
    result = subprocess.run(
        ["git", "rev-list", f"{base}..HEAD"], cwd=cwd, capture_output=True, text=True, timeout=60
    )
    return {base, *result.stdout.split()}


def records_at(where: str, rev: str, cwd: Path) -> tuple[str, list[dict[str, Any]]]:
    """The runs stored for commit ``rev`` (the latest session's record of each run id)."""
    commit = resolve_commit(rev, cwd)
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    for run in stored_runs(where, {commit}):
        latest[(run.run_id, run.nodeid)] = run.record  # later sessions replace earlier ones
    if not latest:
        raise UsageError(
            f"--mlonmcu-compare=history:{rev}: no runs stored for commit {commit[:12]} in {where}"
        )
    return commit, list(latest.values())
