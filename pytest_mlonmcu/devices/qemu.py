"""Emulated boards: QEMU running a program, its console on a TCP socket or a pty.

The console is read like a physical board's (``devices/serial.py``): QEMU serves
``-serial tcp:127.0.0.1:PORT,server=on,wait=on`` (read as ``socket://``) or ``-serial pty``.
The guest starts halted (``-S``) and is resumed through the monitor once the host has opened
the port, so nothing it prints is lost.
"""

from __future__ import annotations

import re
import shlex
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from ..boards.boardset import Board
from ..core import proc
from ..core.errors import RunError

_PTY = re.compile(r"char device redirected to (\S+)")


def free_tcp_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class QemuInstance:
    """An emulated board: QEMU running the ELF, its console on a TCP socket or a pty.

    ``start()`` returns the port to open (``socket://...`` or ``/dev/pts/N``); the guest is
    halted until ``resume()``. ``stop()`` ends QEMU (SIGTERM first, so a TCG
    plugin writes its totals).
    """

    def __init__(
        self,
        board: Board,
        elf: Path,
        work_dir: Path,
        *,
        mode: str = "tcp",
        address: tuple[str, int] | None = None,
        extra_args: list[str] | None = None,
    ) -> None:
        if mode not in ("tcp", "pty"):
            raise RunError(f"qemu serial mode {mode!r}: expected tcp or pty")
        self.board = board
        self.elf = elf
        self.work_dir = work_dir
        self.mode = mode
        self.address = address
        self.extra_args = list(extra_args or [])
        self.child: proc.Child | None = None
        self.command: list[str] = []
        self.log_path = work_dir / "qemu.log"
        # Unix socket paths are limited to 108 bytes: the monitor lives in a short temp dir.
        self._monitor_dir = Path(tempfile.mkdtemp(prefix="mlonmcu-qemu-"))
        self.monitor = self._monitor_dir / "monitor.sock"
        self._output: list[str] = []
        self._reader: threading.Thread | None = None
        self._pty_seen = threading.Event()

    @property
    def binary(self) -> str:
        return str(self.board.qemu.get("binary") or "qemu-system-arm")

    def base_command(self) -> list[str]:
        q = self.board.qemu
        cmd = [self.binary, "-M", str(q["machine"])]
        if q.get("cpu"):
            cmd += ["-cpu", str(q["cpu"])]
        cmd += [str(a) for a in q.get("extra", [])]
        cmd += ["-kernel", str(self.elf), "-display", "none", "-nic", "none"]
        return cmd + self.extra_args

    def interactive_command(self) -> list[str]:
        """The same board with its console on the terminal (to rerun by hand)."""
        return [*self.base_command(), "-monitor", "none", "-serial", "stdio"]

    def start(self, timeout: float = 10.0) -> str:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        cmd = self.base_command()
        # The guest starts halted (-S) and runs once the host has opened the port and resumed
        # it through the monitor: pyserial discards pending input when it opens a port, so
        # nothing may be printed before.
        self.monitor.unlink(missing_ok=True)
        cmd += ["-S", "-monitor", f"unix:{self.monitor},server=on,wait=off"]
        if self.mode == "tcp":
            host, port = self.address or ("127.0.0.1", free_tcp_port())
            self.address = (host, port)
            cmd += ["-serial", f"tcp:{host}:{port},server=on,wait=on"]
            url = f"socket://{host}:{port}"
        else:
            cmd += ["-serial", "pty"]
            url = ""
        self.command = cmd
        # No timer: the console's timeouts bound QEMU's life, stop() ends it in a finally.
        self.child = proc.Child(
            cmd, timeout=None, what=f"QEMU of board {self.board.name}", cwd=self.work_dir,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace",
        )  # fmt: skip
        self._reader = threading.Thread(target=self._pump, daemon=True)
        self._reader.start()
        if self.mode == "pty":
            if not self._pty_seen.wait(timeout) or self.pty is None:
                self.stop()
                raise RunError(
                    f"QEMU named no pty within {timeout:g} s\n$ {shlex.join(cmd)}\n{self.output}"
                )
            url = self.pty
        return url

    def _pump(self) -> None:
        assert self.child is not None and self.child.stdout is not None
        with self.log_path.open("w") as log:
            log.write(f"$ {shlex.join(self.command)}\n")
            for line in self.child.stdout:
                log.write(line)
                log.flush()
                self._output.append(line)
                if _PTY.search(line):
                    self._pty_seen.set()
        self._pty_seen.set()

    @property
    def output(self) -> str:
        return "".join(self._output)

    @property
    def pty(self) -> str | None:
        m = _PTY.search(self.output)
        return m.group(1) if m else None

    def alive(self) -> bool:
        return self.child is not None and self.child.alive()

    def resume(self, timeout: float = 5.0) -> None:
        """Continue the halted guest through the monitor.

        Waits for the monitor's prompt before sending ``cont`` and for the next prompt after
        it: a command sent before the monitor is ready, or a hang-up before it has read the
        line, is lost on a loaded machine and the guest stays halted.
        """
        deadline = time.monotonic() + timeout
        while True:
            try:
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                    s.connect(str(self.monitor))
                    s.settimeout(max(0.1, deadline - time.monotonic()))
                    _read_until_prompt(s)
                    s.sendall(b"cont\n")
                    _read_until_prompt(s)
                    return
            except OSError as exc:
                if time.monotonic() > deadline or not self.alive():
                    raise RunError(f"cannot resume QEMU through {self.monitor}: {exc}") from None
                time.sleep(0.05)

    def stop(self, grace: float = 3.0) -> int | None:
        if self.child is None:
            shutil.rmtree(self._monitor_dir, ignore_errors=True)
            return None
        try:
            returncode = self.child.terminate(grace)
            if self._reader is not None:
                self._reader.join(timeout=2)
                if self._reader.is_alive():  # a process outside the group holds the pipe
                    self.child.popen.stdout = None  # the reader keeps it; never closed under it
        finally:
            self.child.close()
            shutil.rmtree(self._monitor_dir, ignore_errors=True)
        return returncode


def _read_until_prompt(sock: socket.socket) -> None:
    """Read the monitor's output up to its ``(qemu)`` prompt (socket.timeout on silence)."""
    seen = b""
    while b"(qemu)" not in seen:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("the QEMU monitor hung up")
        seen = seen[-64:] + chunk


def qemu_missing(board: Board) -> str | None:
    binary = str(board.qemu.get("binary") or "qemu-system-arm")
    if shutil.which(binary) is None:
        pkg = "qemu-system-misc" if "riscv" in binary else "qemu-system-arm"
        return (
            f"board {board.name} is emulated by {binary}, which is missing (apt-get install {pkg})"
        )
    return None
