"""Serial read-out of a board's console.

The same code reads a physical board (``/dev/ttyACM0``, a ``/dev/serial/by-id`` path or glob,
a USB ``VID:PID``) and an emulated one (QEMU's ``-serial tcp:...`` as ``socket://HOST:PORT``,
or its ``-serial pty``): pyserial's ``serial_for_url`` opens both. A reader thread copies every
byte to the run's serial log while the host flashes, so output printed right after a reset is
not lost; ``wait_for`` returns at the harness's last line (``MLIF done``) or a Zephyr fatal
error, and raises ``SerialTimeout`` (carrying the log) when neither arrives in time.

The port is held under its board's lock (``devices/locks.py``) while a run uses it.
"""

from __future__ import annotations

import contextlib
import glob
import os
import re
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

import serial
from serial.tools import list_ports

from ..core.errors import MissingToolError, RunError

BY_ID_DIR = Path("/dev/serial/by-id")
_URL = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)
_VID_PID = re.compile(r"^([0-9a-fA-F]{4}):([0-9a-fA-F]{4})(?::(.+))?$")
DONE = re.compile(rb"MLIF done -?\d+\r?\n")
FATAL = re.compile(rb">>> ZEPHYR FATAL ERROR[^\n]*\n")


class PortNotFound(MissingToolError):
    """A port spec that matches no device."""


class SerialTimeout(RunError):
    """The expected output did not arrive in time; ``log`` holds what did."""

    def __init__(self, message: str, log: str) -> None:
        super().__init__(message)
        self.log = log


def is_url(spec: str) -> bool:
    return bool(_URL.match(spec))


def resolve_port(spec: str) -> str:
    """A device path or pyserial URL for a port spec.

    Specs: a URL (``socket://``, ``rfc2217://``, ``loop://``...) as is; an existing path;
    ``by-id:NAME`` or a glob (``/dev/serial/by-id/usb-STM*``, ``usb-STM*``) matching one
    device; ``VID:PID`` or ``VID:PID:SERIAL`` (hex, as lsusb shows it).
    """
    spec = spec.strip()
    if not spec:
        raise PortNotFound("no serial port given")
    if is_url(spec):
        return spec
    m = _VID_PID.match(spec)
    if m:
        return _by_vid_pid(int(m.group(1), 16), int(m.group(2), 16), m.group(3), spec)
    name = spec.removeprefix("by-id:")
    candidates = [name] if name.startswith("/") else [str(BY_ID_DIR / name), name]
    for pattern in candidates:
        if not any(c in pattern for c in "*?["):
            if Path(pattern).exists():
                return pattern
            continue
        matches = sorted(glob.glob(pattern))
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise PortNotFound(
                f"serial port {spec!r} matches {len(matches)} devices ({', '.join(matches)}): "
                "name one of them"
            )
    raise PortNotFound(f"serial port {spec!r} does not exist{_present_ports()}")


def _by_vid_pid(vid: int, pid: int, serial_number: str | None, spec: str) -> str:
    found = [
        p
        for p in list_ports.comports()
        if p.vid == vid
        and p.pid == pid
        and (serial_number is None or p.serial_number == serial_number)
    ]
    if len(found) == 1:
        return found[0].device
    if found:
        devices = ", ".join(f"{p.device} (serial {p.serial_number})" for p in found)
        raise PortNotFound(f"{spec}: {len(found)} devices match ({devices}): add :SERIAL")
    raise PortNotFound(f"no USB serial device {spec} is attached{_present_ports()}")


def _present_ports() -> str:
    try:
        ports = [p.device for p in list_ports.comports()]
    except Exception:  # listing is best effort (no sysfs in some containers)
        ports = []
    return f" (attached: {', '.join(ports)})" if ports else " (no serial devices attached)"


def socket_address(url: str) -> tuple[str, int] | None:
    """(host, port) of a ``socket://HOST:PORT`` URL, else None."""
    if not url.lower().startswith("socket://"):
        return None
    rest = url[len("socket://") :].split("?", 1)[0].rstrip("/")
    host, _, port = rest.rpartition(":")
    try:
        return host or "127.0.0.1", int(port)
    except ValueError:
        return None


def port_reachable(spec: str) -> str | None:
    """Why ``spec`` cannot be used now (a skip reason), or None."""
    try:
        url = resolve_port(spec)
    except PortNotFound as exc:
        return str(exc)
    address = socket_address(url)
    if address is not None:
        try:
            with socket.create_connection(address, timeout=2):
                return None
        except OSError as exc:
            return f"serial port {spec}: nothing listens at {address[0]}:{address[1]} ({exc})"
    if is_url(url):
        return None  # rfc2217://, loop://...: pyserial decides when opening
    if not os.access(url, os.R_OK | os.W_OK):
        return f"serial port {url}: no read/write permission (add the user to group dialout)"
    return None


# -- the console --------------------------------------------------------------------------


class SerialConsole:
    """A board's console: opened once, read by a thread into a buffer and a log file."""

    def __init__(self, url: str, baud: int, log_path: Path) -> None:
        self.url = url
        self.baud = baud
        self.log_path = log_path
        self._data = bytearray()
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._port = None
        self._error: BaseException | None = None

    def open(self, timeout: float = 10.0, alive: Callable[[], bool] | None = None) -> SerialConsole:
        """Open the port, retrying until ``timeout`` (a socket not yet listening, a USB device
        that re-enumerates after a reset); ``alive`` says whether the process serving the
        port (QEMU) still runs."""
        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while True:
            try:
                self._port = serial.serial_for_url(self.url, baudrate=self.baud, timeout=0.05)
                break
            except (serial.SerialException, OSError, ValueError) as exc:
                last = exc
                if alive is not None and not alive():
                    raise RunError(f"cannot open serial port {self.url}: {last}") from None
                if time.monotonic() >= deadline:
                    raise RunError(
                        f"cannot open serial port {self.url} within {timeout:g} s: {last}"
                    ) from None
                time.sleep(0.05)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._thread = threading.Thread(target=self._pump, name=f"serial {self.url}", daemon=True)
        self._thread.start()
        return self

    def _pump(self) -> None:
        assert self._port is not None
        with self.log_path.open("wb") as log:
            while not self._stop.is_set():
                try:
                    chunk = self._port.read(4096)
                except Exception as exc:  # the device went away: report it, stop reading
                    with self._cond:
                        self._error = exc
                        self._cond.notify_all()
                    return
                if chunk:
                    log.write(chunk)
                    log.flush()
                    with self._cond:
                        self._data += chunk
                        self._cond.notify_all()

    @property
    def text(self) -> str:
        with self._cond:
            return self._data.decode(errors="replace")

    def wait_for(
        self, pattern: re.Pattern[bytes] = DONE, timeout: float = 120.0, what: str = "MLIF done"
    ) -> str:
        """Read until ``pattern`` or a Zephyr fatal error; the text so far is returned.

        A fatal error returns early (the caller's protocol check reports it); a timeout or a
        port that goes away raises SerialTimeout with the log in the message.
        """
        deadline = time.monotonic() + timeout
        fatal_at: float | None = None
        with self._cond:
            while True:
                if pattern.search(self._data):
                    return self._data.decode(errors="replace")
                fatal = FATAL.search(self._data)
                if fatal is not None:
                    # Give the fault dump a moment to complete, then return it.
                    fatal_at = fatal_at or time.monotonic()
                    rest = self._data[fatal.end() :]
                    if b"Halting system" in rest or time.monotonic() - fatal_at > 1.0:
                        return self._data.decode(errors="replace")
                if self._error is not None:
                    raise SerialTimeout(
                        f"serial port {self.url} failed while reading: {self._error}\n"
                        + self.log_excerpt(),
                        self._data.decode(errors="replace"),
                    )
                left = deadline - time.monotonic()
                if left <= 0:
                    raise SerialTimeout(
                        f"timeout: no {what!r} on {self.url} "
                        f"within {timeout:g} s\n" + self.log_excerpt(),
                        self._data.decode(errors="replace"),
                    )
                self._cond.wait(min(left, 0.2 if fatal_at else left))

    def log_excerpt(self, lines: int = 40) -> str:
        text = self._data.decode(errors="replace")
        body = "\n".join(text.strip().splitlines()[-lines:]) if text.strip() else "(nothing)"
        return f"--- serial log ({len(self._data)} bytes, {self.log_path}) ---\n{body}"

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        if self._port is not None:
            with contextlib.suppress(Exception):
                self._port.close()

    def __enter__(self) -> SerialConsole:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
