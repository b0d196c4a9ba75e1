"""The cache under faults: killed producers, unfinished entries, held locks, file modes."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_mlonmcu.core.cache import (
    LOCK_TIMEOUT_ENV,
    MARKER,
    Cache,
    CacheLockTimeout,
    atomic_write_text,
)
from pytest_mlonmcu.core.errors import MlonmcuError

REPO = Path(__file__).resolve().parents[2]

# A producer in another process that starts an entry, says so, then waits to be killed.
HOLDER = """
import sys, time
from pathlib import Path
from pytest_mlonmcu.core.cache import Cache

def produce(tmp: Path) -> None:
    (tmp / "half-written").write_text("x")
    print("PRODUCING", tmp, flush=True)
    time.sleep(600)

Cache(Path(sys.argv[1])).get_or_create("kind", "key", produce)
"""

RAW_LOCK_HOLDER = """
import sys, time
from filelock import FileLock
lock = FileLock(sys.argv[1])
lock.acquire()
print("LOCKED", flush=True)
time.sleep(600)
"""


def _start(code: str, *args: str) -> tuple[subprocess.Popen, str]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    proc = subprocess.Popen(
        [sys.executable, "-c", code, *args], stdout=subprocess.PIPE, text=True, env=env
    )
    line = proc.stdout.readline() if proc.stdout else ""
    if not line:
        proc.kill()
        proc.wait(timeout=30)
        pytest.fail(f"the helper process did not start (exit {proc.returncode})")
    return proc, line.strip()


@pytest.fixture
def processes():
    started: list[subprocess.Popen] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)


def _produce_ok(tmp: Path) -> None:
    (tmp / "result").write_text("ok")


def test_temp_dir_of_a_killed_producer_is_swept_by_the_next_one(tmp_path, processes):
    proc, line = _start(HOLDER, str(tmp_path))
    processes.append(proc)
    temp = Path(line.split(" ", 1)[1])
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert (temp / "half-written").is_file()  # what a SIGKILL leaves behind
    cache = Cache(tmp_path)
    assert cache.lookup("kind", "key") is None

    entry = cache.get_or_create("kind", "key", _produce_ok)
    assert (entry / "result").read_text() == "ok" and (entry / MARKER).is_file()
    assert not temp.exists()
    assert sorted(p.name for p in (tmp_path / "kind").iterdir() if p.is_dir()) == ["key"]


def test_entry_without_marker_is_rebuilt(tmp_path):
    cache = Cache(tmp_path)
    stale = cache.path("kind", "key")
    stale.mkdir(parents=True)
    (stale / "result").write_text("from an older version or a crash")
    assert cache.lookup("kind", "key") is None

    produced: list[Path] = []

    def produce(tmp: Path) -> None:
        produced.append(tmp)
        _produce_ok(tmp)

    entry = cache.get_or_create("kind", "key", produce)
    assert len(produced) == 1 and entry == stale
    assert (entry / "result").read_text() == "ok"
    assert cache.lookup("kind", "key") == entry
    # Complete now: the next request does not produce again.
    assert cache.get_or_create("kind", "key", produce) == entry and len(produced) == 1
    assert [p.name for p in (tmp_path / "kind").iterdir() if p.name.startswith(".")] == []


def test_failed_producer_leaves_nothing(tmp_path):
    cache = Cache(tmp_path)

    def fail(tmp: Path) -> None:
        (tmp / "partial").write_text("x")
        raise RuntimeError("producer broke")

    with pytest.raises(RuntimeError, match="producer broke"):
        cache.get_or_create("kind", "key", fail)
    assert [p.name for p in (tmp_path / "kind").iterdir() if not p.name.endswith(".lock")] == []


def test_lock_wait_times_out_naming_lock_file_entry_and_holder(tmp_path, processes):
    proc, _ = _start(HOLDER, str(tmp_path))
    processes.append(proc)
    cache = Cache(tmp_path, lock_timeout=0.5)
    lock = tmp_path / "kind" / "key.lock"
    with pytest.raises(CacheLockTimeout) as err:
        cache.get_or_create("kind", "key", _produce_ok)
    message = str(err.value)
    assert str(lock) in message and "kind/key" in message
    assert f"pid {proc.pid} " in message and "waited 0.5 s" in message
    assert LOCK_TIMEOUT_ENV in message
    # The next wait for the same entry in this process fails at once, saying why.
    with pytest.raises(CacheLockTimeout, match="did not wait"):
        cache.get_or_create("kind", "key", _produce_ok)

    # Once the holder is gone, the entry is produced (its temp dir swept).
    proc.kill()
    proc.wait(timeout=30)
    entry = cache.get_or_create("kind", "key", _produce_ok)
    assert (entry / "result").read_text() == "ok"
    assert not (tmp_path / "kind" / "key.lock.owner").exists()


def test_holder_without_owner_record_is_named_by_the_kernel_lock_table(tmp_path, processes):
    if not Path("/proc/locks").is_file():
        pytest.skip("no /proc/locks")
    lock = tmp_path / "kind" / "key.lock"
    lock.parent.mkdir()
    # A stale record of a killed earlier holder must not be taken for the current one.
    (tmp_path / "kind" / "key.lock.owner").write_text('{"pid": 1, "host": "elsewhere"}')
    proc, _ = _start(RAW_LOCK_HOLDER, str(lock))
    processes.append(proc)
    with pytest.raises(CacheLockTimeout) as err:
        Cache(tmp_path).get_or_create("kind", "key", _produce_ok, lock_timeout=0.2)
    message = str(err.value)
    assert f"pid {proc.pid}" in message and "pid 1 " not in message


@pytest.mark.parametrize("mask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_atomic_writes_honour_the_umask(tmp_path, mask, mode):
    old = os.umask(mask)
    try:
        atomic_write_text(tmp_path / "report.json", "{}")
        entry = Cache(tmp_path).get_or_create("kind", "key", _produce_ok)
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "report.json").stat().st_mode) == mode
    assert stat.S_IMODE(entry.stat().st_mode) == mode | 0o111 & ~mask


def test_atomic_write_replaces_and_leaves_no_temp_file(tmp_path):
    target = tmp_path / "out.txt"
    atomic_write_text(target, "one")
    atomic_write_text(target, "two")
    assert target.read_text() == "two"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


@pytest.mark.parametrize("value", ["nan", "inf", "-5", "0", "soon"])
def test_bad_lock_timeout_setting_is_a_clear_error(tmp_path, monkeypatch, value):
    monkeypatch.setenv(LOCK_TIMEOUT_ENV, value)
    with pytest.raises(MlonmcuError, match=f"{LOCK_TIMEOUT_ENV}={value!r}"):
        Cache(tmp_path).get_or_create("kind", "key", _produce_ok)


def test_lock_timeout_comes_from_argument_cache_environment_then_kind(tmp_path, monkeypatch):
    monkeypatch.delenv(LOCK_TIMEOUT_ENV, raising=False)
    cache = Cache(tmp_path)
    assert cache.timeout_for("tflm-lib") > cache.timeout_for("reference") >= 600
    monkeypatch.setenv(LOCK_TIMEOUT_ENV, "7")
    assert cache.timeout_for("tflm-lib") == cache.timeout_for("reference") == 7
    assert Cache(tmp_path, lock_timeout=3).timeout_for("tflm-lib") == 3


def test_installers_take_only_completed_entries(tmp_path, monkeypatch):
    from pytest_mlonmcu.core.config import RunConfig
    from pytest_mlonmcu.install import etiss, sources

    for var in (etiss.ENV_INSTALL_DIR, etiss.ENV_SOURCE, sources.VENDOR_DIR_ENV):
        monkeypatch.delenv(var, raising=False)
    source = tmp_path / "etiss-src"
    source.mkdir()
    config = RunConfig({"etiss.source": str(source)}).scoped("etiss")
    cache = Cache(tmp_path / "cache")
    key = etiss.EtissInstaller(config, cache).plan().key
    # An installation-shaped folder that never got its marker (a crash, an older version).
    entry = cache.path("etiss", key)
    (entry / "bin").mkdir(parents=True)
    (entry / "bin" / "bare_etiss_processor").write_text("#!/bin/sh\n")
    (entry / "bin" / "bare_etiss_processor").chmod(0o755)
    (entry / "examples").mkdir()
    (entry / "examples" / "base.ini").write_text("")
    assert etiss.cached_etiss(config, cache) is None

    (entry / MARKER).write_text("{}")
    found = etiss.cached_etiss(config, cache)
    assert found is not None and found.prefix == entry
