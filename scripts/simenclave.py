#!/usr/bin/env python3
"""Simulated Nitro enclave: a network namespace with only `lo` up.

The agent and the workload run inside the namespace and cannot reach any TCP/UDP address
outside it; the only way out is a directory of Unix sockets shared with the host, which is
how Porthole emulates vsock (`uds:DIR`, endpoint (cid, port) = DIR/<cid>_<port>.sock).
See docs/simulated-enclave.md.

Python API (stdlib only, needs root):

    with SimulatedEnclave() as enc:              # or enc = SimulatedEnclave(...).up()
        agent = enc.spawn([agent_bin, ...], log_path="agent.log")
        enc.run(["ip", "addr"])                  # one-shot command inside
        enc.stop(agent)                          # SIGTERM the group, SIGKILL after a deadline
    # leaving the block kills everything in the namespace and deletes it

CLI: scripts/sim-enclave {run,up,exec,down,gc,list} (see `sim-enclave --help`).
"""

from __future__ import annotations

import argparse
import atexit
import glob
import itertools
import json
import os
import re
import shlex
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time

__all__ = [
    "SimulatedEnclave",
    "SimEnclaveError",
    "gc",
    "tcp_reachable_from",
    "install_cleanup_handlers",
    "main",
    "STATE_DIR",
]

STATE_DIR = "/run/porthole-sim"   # one <netns>.json per namespace this tool created
NETNS_DIR = "/run/netns"          # where `ip netns add` pins namespaces
MAX_NAME_LEN = 15                 # short enough for names derived from it (IFNAMSIZ is 16)
TERM_GRACE = 5.0                  # seconds between SIGTERM and SIGKILL in down()
KILL_GRACE = 5.0                  # seconds to wait for SIGKILLed processes to disappear

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
# Default names embed the creating pid: ph<pid>x<counter>.
_DEFAULT_NAME_RE = re.compile(r"^ph(\d+)x(\d+)$")
_TOOL = "porthole-sim-enclave"

_counter = itertools.count()
_live: set = set()                 # enclaves up in this process, torn down at exit
_live_lock = threading.Lock()


class SimEnclaveError(Exception):
    """A user-facing error (the CLI prints it without a traceback)."""


# ---------------------------------------------------------------------------------------------
# small helpers: /proc, ip, processes


def _warn(msg: str) -> None:
    print(f"sim-enclave: warning: {msg}", file=sys.stderr, flush=True)


def _require_root_and_ip() -> None:
    if os.geteuid() != 0:
        raise SimEnclaveError(
            "network namespaces need root: run this as root (e.g. via sudo)")
    if shutil.which("ip") is None:
        raise SimEnclaveError(
            "'ip' (iproute2) was not found on PATH: install the iproute2 package "
            "(scripts/setup does)")


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    try:
        cp = subprocess.run(["ip", *args], stdin=subprocess.DEVNULL, capture_output=True,
                            text=True, timeout=30)
    except FileNotFoundError:
        raise SimEnclaveError("'ip' (iproute2) was not found on PATH") from None
    if check and cp.returncode != 0:
        raise SimEnclaveError(f"`ip {' '.join(args)}` failed: {cp.stderr.strip()}")
    return cp


def _proc_stat(pid: int):
    """(state, pgrp, starttime) of a process, or None if it does not exist."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read().decode("ascii", "replace")
    except OSError:
        return None
    try:
        rest = data[data.rindex(")") + 2:].split()
        return rest[0], int(rest[2]), int(rest[19])
    except (ValueError, IndexError):
        return None


def _pid_start(pid: int):
    st = _proc_stat(pid)
    return st[2] if st else None


def _pid_alive(pid, start=None) -> bool:
    """True if pid runs (zombies count as dead) and, if given, started at `start`."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    st = _proc_stat(pid)
    if st is None or st[0] in ("Z", "X", "x"):
        return False
    return start is None or st[2] == start


def _all_pids() -> list[int]:
    try:
        return [int(d) for d in os.listdir("/proc") if d.isdigit()]
    except OSError:
        return []


def _netns_key(name: str):
    try:
        st = os.stat(os.path.join(NETNS_DIR, name))
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def _scan(pgids, ns_key):
    """One pass over /proc: (process groups in `pgids` that still have a live member,
    live pids whose network namespace is `ns_key`). Zombies are ignored."""
    groups, pids = set(), set()
    for pid in _all_pids():
        st = _proc_stat(pid)
        if st is None or st[0] in ("Z", "X", "x"):
            continue
        if st[1] in pgids:
            groups.add(st[1])
        if ns_key is not None:
            try:
                s = os.stat(f"/proc/{pid}/ns/net")
            except OSError:
                continue
            if (s.st_dev, s.st_ino) == ns_key:
                pids.add(pid)
    pids.discard(os.getpid())
    return groups, pids


def _netns_pids(name: str) -> list[int]:
    """What `ip netns pids NAME` lists, minus zombies and ourselves."""
    key = _netns_key(name)
    if key is None:
        return []
    return sorted(_scan(set(), key)[1])


def _signal_group(pgid: int, sig: int) -> None:
    if pgid <= 1 or pgid == os.getpgrp():
        return
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _signal_pid(pid: int, sig: int) -> None:
    if pid <= 1 or pid == os.getpid():
        return
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _poll_until(pred, deadline: float) -> bool:
    """Poll `pred` with a short, growing interval until it is true or `deadline` passes."""
    delay = 0.002
    while True:
        if pred():
            return True
        now = time.monotonic()
        if now >= deadline:
            return False
        time.sleep(min(delay, deadline - now))
        delay = min(delay * 2, 0.05)


def _terminate(procs, netns):
    """SIGTERM the process groups of `procs` and every process in `netns`, wait up to
    TERM_GRACE, SIGKILL what is left, wait up to KILL_GRACE. Reaps our own children."""
    ns_key = _netns_key(netns) if netns else None
    state = {}

    def done() -> bool:
        for p in procs:
            p.poll()                       # reap our own children so they are not zombies
        groups, pids = _scan({p.pid for p in procs}, ns_key)
        state["groups"], state["pids"] = groups, pids
        return not groups and not pids and all(p.returncode is not None for p in procs)

    for sig, grace in ((signal.SIGTERM, TERM_GRACE), (signal.SIGKILL, KILL_GRACE)):
        if done():
            return True
        for g in state["groups"]:
            _signal_group(g, sig)
        for p in procs:                    # leader alive but in no scanned group: edge cases
            if p.returncode is None:
                _signal_group(p.pid, sig)
        for pid in state["pids"]:
            _signal_pid(pid, sig)
        if _poll_until(done, time.monotonic() + grace):
            return True
    _warn(f"processes survived SIGKILL (uninterruptible?): groups={sorted(state['groups'])} "
          f"pids={sorted(state['pids'])}")
    return False


def _bound_unix_paths():
    """Filesystem paths of Unix sockets currently bound by some live process, over every
    network namespace visible in /proc (absolute paths realpath'd, plus relative names)."""
    absolute, relative, seen_ns = set(), set(), set()
    for pid in _all_pids():
        try:
            s = os.stat(f"/proc/{pid}/ns/net")
        except OSError:
            continue
        key = (s.st_dev, s.st_ino)
        if key in seen_ns:
            continue
        try:
            with open(f"/proc/{pid}/net/unix", "rb") as f:
                lines = f.read().decode("utf-8", "replace").splitlines()[1:]
        except OSError:
            continue
        seen_ns.add(key)
        for line in lines:
            parts = line.split(None, 7)
            if len(parts) < 8 or parts[7].startswith("@"):
                continue
            path = parts[7]
            if path.startswith("/"):
                absolute.add(path)
            else:
                relative.add(os.path.basename(path))
    return absolute, relative


def _remove_stale_sockets(directory: str) -> None:
    """Remove DIR/*.sock files that no live process has bound (the enclave's, once its
    processes are dead). Sockets still bound -- e.g. a sidecar's listening 3_<port>.sock,
    which survives an enclave restart on real Nitro too -- are left alone."""
    candidates = [p for p in glob.glob(os.path.join(glob.escape(directory), "*.sock"))
                  if not (os.path.isdir(p) and not os.path.islink(p))]
    if not candidates:
        return
    absolute, relative = _bound_unix_paths()
    names = {os.path.basename(p) for p in candidates}
    live = {os.path.realpath(a) for a in absolute if os.path.basename(a) in names}
    for path in candidates:
        if os.path.basename(path) in relative or os.path.realpath(path) in live:
            continue
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        except OSError as e:
            _warn(f"cannot remove {path}: {e}")


def _state_path(name: str) -> str:
    return os.path.join(STATE_DIR, name + ".json")


def _read_state(name: str):
    try:
        with open(_state_path(name)) as f:
            st = json.load(f)
        return st if isinstance(st, dict) else None
    except (OSError, ValueError):
        return None


def _state_names() -> list[str]:
    try:
        return sorted(f[:-5] for f in os.listdir(STATE_DIR)
                      if f.endswith(".json") and not f.startswith("."))
    except OSError:
        return []


def _list_netns() -> list[str]:
    try:
        return sorted(os.listdir(NETNS_DIR))
    except OSError:
        return []


def _validate_name(name: str) -> None:
    if not _NAME_RE.match(name) or len(name) > MAX_NAME_LEN:
        raise SimEnclaveError(
            f"bad enclave name {name!r}: use 1-{MAX_NAME_LEN} characters from "
            "[A-Za-z0-9_.-], starting with a letter or digit")


# ---------------------------------------------------------------------------------------------
# the enclave


class SimulatedEnclave:
    """A network namespace with only `lo` up, plus a shared `uds:` directory.

    name:    the namespace name (default ph<pid>x<counter>, at most 15 characters).
    uds_dir: the shared Unix-socket directory. Default: a fresh temporary directory
             (mode 0755) that down() removes. A given directory is created if missing and
             kept by down(); only its stale *.sock files are removed.
    """

    def __init__(self, name: str | None = None, uds_dir: str | None = None):
        if name is not None:
            _validate_name(name)
        self._requested_name = name
        self._requested_uds = uds_dir
        self.netns: str = name or ""
        self.uds_dir: str = os.path.abspath(uds_dir) if uds_dir else ""
        self._procs: list[subprocess.Popen] = []
        self._lock = threading.RLock()
        self._active = False
        self._detached = False
        self._owner_pid = os.getpid()
        self._dir_owned = False
        self._state_created = False
        self._netns_created = False

    def __repr__(self) -> str:
        return (f"SimulatedEnclave(netns={self.netns!r}, uds_dir={self.uds_dir!r}, "
                f"active={self._active})")

    # -- lifecycle ---------------------------------------------------------------------------

    def up(self, *, detached: bool = False) -> "SimulatedEnclave":
        """Create the namespace (only `lo`, up), the uds dir and the state file.

        detached=True (used by `sim-enclave up`) marks the enclave as meant to outlive this
        process: gc() then leaves it alone unless include_detached=True, and it is not torn
        down at interpreter exit."""
        with self._lock:
            if self._active:
                return self
            _require_root_and_ip()
            self._owner_pid = os.getpid()
            self._detached = detached
            self._active = True
            try:
                self._up()
            except BaseException:
                self.down()
                raise
            if not detached:
                with _live_lock:
                    _live.add(self)
            return self

    def _up(self) -> None:
        os.makedirs(STATE_DIR, mode=0o755, exist_ok=True)
        if self._requested_name is not None and self._exists(self._requested_name):
            raise self._exists_error(self._requested_name)
        if self._requested_uds is None:
            self.uds_dir = tempfile.mkdtemp(prefix="porthole-uds-")
            self._dir_owned = True
            os.chmod(self.uds_dir, 0o755)
        else:
            self.uds_dir = os.path.abspath(self._requested_uds)
            os.makedirs(self.uds_dir, mode=0o755, exist_ok=True)
        # The state file is written *before* the namespace exists, so a crash at any point
        # leaves something gc() can find. os.link() makes its creation atomic and exclusive.
        if self._requested_name is not None:
            self.netns = self._requested_name
            if not self._write_state():
                raise self._exists_error(self.netns)
        else:
            for _ in range(1000):
                self.netns = f"ph{os.getpid()}x{next(_counter)}"
                if not self._exists(self.netns) and self._write_state():
                    break
            else:
                raise SimEnclaveError("could not find a free default enclave name")
        self._state_created = True
        cp = _ip("netns", "add", self.netns, check=False)
        if cp.returncode != 0:
            if "exists" in cp.stderr:
                raise self._exists_error(self.netns)
            raise SimEnclaveError(f"`ip netns add {self.netns}` failed: {cp.stderr.strip()}")
        self._netns_created = True
        _ip("-n", self.netns, "link", "set", "lo", "up")

    @staticmethod
    def _exists(name: str) -> bool:
        return (os.path.lexists(os.path.join(NETNS_DIR, name))
                or os.path.lexists(_state_path(name)))

    @staticmethod
    def _exists_error(name: str) -> SimEnclaveError:
        if os.path.lexists(_state_path(name)):
            return SimEnclaveError(
                f"enclave {name!r} already exists (state {_state_path(name)}): "
                f"`sim-enclave down {name}` removes it, `sim-enclave gc` removes orphans")
        return SimEnclaveError(
            f"network namespace {name!r} already exists and was not created by sim-enclave; "
            "pick another --name")

    def _write_state(self) -> bool:
        """Create the state file exclusively; False if it already exists."""
        state = {
            "tool": _TOOL,
            "netns": self.netns,
            "pid": os.getpid(),
            "pid_start": _pid_start(os.getpid()),
            "uds_dir": self.uds_dir,
            "uds_dir_owned": self._dir_owned,
            "detached": self._detached,
            "created": time.time(),
        }
        tmp = os.path.join(STATE_DIR, f".{self.netns}.{os.getpid()}.{threading.get_ident()}.tmp")
        with open(tmp, "w") as f:
            json.dump(state, f, indent=1)
            f.write("\n")
        try:
            os.link(tmp, _state_path(self.netns))
            return True
        except FileExistsError:
            return False
        finally:
            os.unlink(tmp)

    @classmethod
    def attach(cls, name: str) -> "SimulatedEnclave":
        """An enclave created elsewhere (another process, `sim-enclave up`), from its state
        file; down() on it tears it down completely."""
        _validate_name(name)
        st = _read_state(name)
        if st is None:
            if os.path.lexists(os.path.join(NETNS_DIR, name)):
                raise SimEnclaveError(
                    f"network namespace {name!r} was not created by sim-enclave "
                    f"(no state file in {STATE_DIR})")
            raise SimEnclaveError(f"unknown enclave {name!r} (`sim-enclave list` shows them)")
        return cls._from_state(name, st)

    @classmethod
    def _from_state(cls, name: str, st: dict) -> "SimulatedEnclave":
        enc = cls(name, st.get("uds_dir") or None)
        enc.uds_dir = st.get("uds_dir") or ""
        enc._dir_owned = bool(st.get("uds_dir_owned")) and bool(enc.uds_dir)
        enc._detached = bool(st.get("detached"))
        enc._state_created = True
        enc._netns_created = True
        enc._active = True
        return enc

    def down(self) -> None:
        """Kill everything in the enclave and remove it. Idempotent; never raises for
        things that are already gone (problems are printed as warnings)."""
        with self._lock:
            if not self._active:
                return
            netns = self.netns if self._netns_created else None
            try:
                _terminate(list(self._procs), netns)
            except Exception as e:  # noqa: BLE001 - teardown must go on
                _warn(f"killing enclave processes: {e}")
            if netns and os.path.lexists(os.path.join(NETNS_DIR, netns)):
                cp = _ip("netns", "del", netns, check=False)
                if cp.returncode != 0 and os.path.lexists(os.path.join(NETNS_DIR, netns)):
                    _warn(f"`ip netns del {netns}` failed: {cp.stderr.strip()}")
            try:
                if self.uds_dir and self._dir_owned:
                    shutil.rmtree(self.uds_dir, ignore_errors=True)
                elif self.uds_dir and os.path.isdir(self.uds_dir):
                    _remove_stale_sockets(self.uds_dir)
            except Exception as e:  # noqa: BLE001
                _warn(f"cleaning {self.uds_dir}: {e}")
            if self._state_created and self.netns:
                try:
                    os.unlink(_state_path(self.netns))
                except FileNotFoundError:
                    pass
                except OSError as e:
                    _warn(f"removing {_state_path(self.netns)}: {e}")
            self._procs.clear()
            self._active = False
            self._state_created = self._netns_created = False
            with _live_lock:
                _live.discard(self)

    def __enter__(self) -> "SimulatedEnclave":
        return self.up()

    def __exit__(self, *exc) -> None:
        self.down()

    # -- processes ---------------------------------------------------------------------------

    def _require_active(self) -> None:
        if not self._active or not self._netns_created:
            raise SimEnclaveError("the enclave is not up (call up() first)")

    def _argv(self, argv) -> list[str]:
        if isinstance(argv, (str, bytes)):
            raise TypeError("argv must be a list of strings, not a single string")
        return ["ip", "netns", "exec", self.netns, *[os.fspath(a) for a in argv]]

    @staticmethod
    def _env(env):
        if env is None:
            return None
        return {**os.environ, **{str(k): str(v) for k, v in env.items()}}

    def spawn(self, argv, *, log_path: str | None = None, env: dict | None = None,
              cwd=None, **popen_kwargs) -> subprocess.Popen:
        """Start argv inside the namespace in a new session (its own process group).

        stdout and stderr are appended to log_path if given, else inherited (or whatever
        popen_kwargs say); stdin defaults to /dev/null. env is merged over os.environ.
        The process is tracked: down() kills its whole process group."""
        self._require_active()
        popen_kwargs.setdefault("stdin", subprocess.DEVNULL)
        popen_kwargs.pop("start_new_session", None)
        log = None
        if log_path is not None:
            log = open(log_path, "ab", buffering=0)
            popen_kwargs["stdout"] = log
            popen_kwargs["stderr"] = subprocess.STDOUT
        try:
            proc = subprocess.Popen(self._argv(argv), env=self._env(env), cwd=cwd,
                                    start_new_session=True, **popen_kwargs)
        finally:
            if log is not None:
                log.close()
        with self._lock:
            self._procs.append(proc)
        return proc

    def run(self, argv, *, timeout: float = 30, check: bool = False,
            capture_output: bool = True, input=None, text: bool = True,
            env: dict | None = None, cwd=None) -> subprocess.CompletedProcess:
        """Run a one-shot command inside the namespace and wait for it. On timeout its
        process group is killed and subprocess.TimeoutExpired raised."""
        self._require_active()
        args = self._argv(argv)
        pipe = subprocess.PIPE if capture_output else None
        proc = subprocess.Popen(args, stdin=subprocess.PIPE if input is not None else
                                subprocess.DEVNULL, stdout=pipe, stderr=pipe, text=text,
                                env=self._env(env), cwd=cwd, start_new_session=True)
        try:
            out, err = proc.communicate(input, timeout=timeout)
        except BaseException:
            _signal_group(proc.pid, signal.SIGKILL)
            try:
                proc.communicate(timeout=5)
            except subprocess.TimeoutExpired:
                pass
            raise
        finally:
            _signal_group(proc.pid, signal.SIGKILL)   # leftovers of the group, if any
        cp = subprocess.CompletedProcess(args, proc.returncode, out, err)
        if check:
            cp.check_returncode()
        return cp

    def stop(self, proc: subprocess.Popen, sig=signal.SIGTERM,
             timeout: float = 5.0) -> int | None:
        """Send `sig` to proc's process group, wait until timeout, then SIGKILL the group.
        Returns proc's exit code (negative signal number if killed; None if it could not be
        reaped)."""
        deadline = time.monotonic() + timeout
        proc.poll()
        if proc.returncode is None or _scan({proc.pid}, None)[0]:
            _signal_group(proc.pid, sig)

            def gone() -> bool:
                return proc.poll() is not None and not _scan({proc.pid}, None)[0]

            if not _poll_until(gone, deadline):
                _signal_group(proc.pid, signal.SIGKILL)
                _poll_until(gone, time.monotonic() + KILL_GRACE)
        with self._lock:
            if proc in self._procs and proc.returncode is not None:
                self._procs.remove(proc)
        return proc.returncode

    def pids(self) -> list[int]:
        """Live pids inside the namespace (like `ip netns pids`)."""
        return _netns_pids(self.netns) if self._netns_created else []


# ---------------------------------------------------------------------------------------------
# module functions


def gc(*, include_detached: bool = False) -> list[str]:
    """Remove enclaves left behind by dead processes; returns the names removed.

    Uses the state files: an enclave whose creating pid no longer runs is torn down
    (processes killed, namespace deleted, its temp uds dir removed). Enclaves from
    `sim-enclave up` (detached) are kept unless include_detached, but their state is dropped
    if their namespace is gone. Namespaces named like our defaults (ph<pid>x<n>) with a dead
    pid and no state file are removed too."""
    _require_root_and_ip()
    removed = []
    names = _state_names()
    for name in names:
        st = _read_state(name)
        if st is None:
            # Unreadable: only a stale one (the file is created complete, atomically).
            try:
                age = time.time() - os.path.getmtime(_state_path(name))
            except OSError:
                continue
            if age < 60:
                continue
            st = {}
        if _pid_alive(st.get("pid"), st.get("pid_start")):
            continue
        if (st.get("detached") and not include_detached
                and os.path.lexists(os.path.join(NETNS_DIR, name))):
            continue
        try:
            _validate_name(name)
        except SimEnclaveError:
            continue
        SimulatedEnclave._from_state(name, st).down()
        removed.append(name)
    for name in _list_netns():
        m = _DEFAULT_NAME_RE.match(name)
        if name in names or not m or _pid_alive(int(m.group(1))):
            continue
        if os.path.lexists(_state_path(name)):    # created since we listed
            continue
        enc = SimulatedEnclave(name)
        enc._active = enc._netns_created = True
        enc.down()
        removed.append(name)
    return removed


_PROBE = """\
import socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=float(sys.argv[3])).close()
except OSError as e:
    print(e)
    sys.exit(1)
"""


def tcp_reachable_from(enclave: SimulatedEnclave, host: str, port: int,
                       timeout: float = 2.0) -> bool:
    """True if a TCP connect to host:port from inside the enclave's namespace succeeds."""
    try:
        cp = enclave.run([sys.executable, "-c", _PROBE, host, str(port), str(timeout)],
                         timeout=timeout + 15)
    except subprocess.TimeoutExpired:
        return False
    return cp.returncode == 0


def _cleanup_live() -> None:
    with _live_lock:
        live = list(_live)
    for enc in live:
        if enc._owner_pid == os.getpid():
            enc.down()


atexit.register(_cleanup_live)


def install_cleanup_handlers() -> None:
    """Make SIGTERM and SIGHUP raise SystemExit (as SIGINT raises KeyboardInterrupt), so
    `with SimulatedEnclave()` blocks, try/finally and atexit tear enclaves down. For test
    scripts; the CLI does its own signal handling."""
    def handler(signum, frame):
        raise SystemExit(128 + signum)
    for s in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, handler)


# ---------------------------------------------------------------------------------------------
# CLI


class _SignalRouter:
    """CLI signal handling that never raises out of a handler. Before a child exists a
    signal is remembered; with a child the first one is forwarded to its process group and
    a further one asks for escalation (run: tear everything down; exec: SIGKILL)."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

    def __init__(self):
        self.child: subprocess.Popen | None = None
        self.count = 0
        self.last: int | None = None
        self.forwarded = False
        self.escalate = False
        self.quiet = False

    def install(self) -> None:
        for s in self.SIGNALS:
            signal.signal(s, self._handle)

    def _handle(self, signum, frame) -> None:
        self.count += 1
        self.last = signum
        if self.child is None:
            return
        if not self.forwarded:
            self.forwarded = True
            _signal_group(self.child.pid, signum)
        else:
            self.escalate = True
            if not self.quiet:
                print("sim-enclave: another signal: killing the enclave", file=sys.stderr,
                      flush=True)

    def attach_child(self, child: subprocess.Popen) -> None:
        self.child = child
        if self.last is not None and not self.forwarded:   # arrived while starting
            self.forwarded = True
            _signal_group(child.pid, self.last)


def _exit_status(rc: int | None, router: _SignalRouter) -> int:
    if rc is None:
        return 128 + (router.last or signal.SIGKILL)
    return 128 - rc if rc < 0 else rc


def _wait_child(child: subprocess.Popen, router: _SignalRouter) -> int | None:
    while True:
        try:
            return child.wait(timeout=0.25)
        except subprocess.TimeoutExpired:
            if router.escalate:
                return None


def _split_command(argv: list[str]):
    if "--" in argv:
        i = argv.index("--")
        return argv[:i], argv[i + 1:]
    return argv, None


def _cmd_run(args, command, router) -> int:
    enc = SimulatedEnclave(args.name, args.uds)
    atexit.register(enc.down)
    try:
        enc.up()
        if router.last is not None:
            return 128 + router.last
        child = enc.spawn(command, stdin=None)
        router.attach_child(child)
        rc = _wait_child(child, router)
        if rc is None:                     # second signal: no more grace for the command
            _signal_group(child.pid, signal.SIGKILL)
        return _exit_status(rc, router)
    finally:
        router.quiet = True
        router.child = None
        enc.down()


def _cmd_up(args, router) -> int:
    enc = SimulatedEnclave(args.name, args.uds)
    try:
        enc.up(detached=True)
    except BaseException:
        enc.down()
        raise
    if router.last is not None:
        enc.down()
        return 128 + router.last
    print(f"PORTHOLE_NETNS={shlex.quote(enc.netns)}")
    print(f"PORTHOLE_UDS_DIR={shlex.quote(enc.uds_dir)}")
    return 0


def _cmd_exec(args, command, router) -> int:
    _require_root_and_ip()
    enc = SimulatedEnclave.attach(args.name)
    if not os.path.lexists(os.path.join(NETNS_DIR, enc.netns)):
        raise SimEnclaveError(f"enclave {args.name!r} has a state file but no namespace; "
                              "`sim-enclave gc` cleans it up")
    child = subprocess.Popen(enc._argv(command), start_new_session=True)
    router.attach_child(child)
    while True:
        rc = _wait_child(child, router)
        if rc is not None:
            return _exit_status(rc, router)
        _signal_group(child.pid, signal.SIGKILL)
        router.escalate = False


def _cmd_down(args) -> int:
    _require_root_and_ip()
    SimulatedEnclave.attach(args.name).down()
    return 0


def _cmd_gc(args) -> int:
    for name in gc(include_detached=args.all):
        print(f"removed {name}")
    return 0


def _cmd_list(args) -> int:
    rows = []
    names = _state_names()
    for name in names:
        st = _read_state(name) or {}
        has_ns = os.path.lexists(os.path.join(NETNS_DIR, name))
        if not has_ns:
            status = "stale"
        elif _pid_alive(st.get("pid"), st.get("pid_start")):
            status = "detached" if st.get("detached") else "active"
        else:
            status = "detached" if st.get("detached") else "orphan"
        procs = str(len(_netns_pids(name))) if has_ns else "-"
        rows.append((name, str(st.get("pid", "?")), status, procs, st.get("uds_dir", "?")))
    for name in _list_netns():
        m = _DEFAULT_NAME_RE.match(name)
        if m and name not in names:
            rows.append((name, m.group(1), "orphan (no state)", str(len(_netns_pids(name))),
                         "?"))
    if not rows:
        return 0
    header = ("NAME", "PID", "STATUS", "PROCS", "UDS_DIR")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
    for r in [header, *rows]:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)) + "  " + r[4])
    return 0


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="sim-enclave",
        description="Simulated Nitro enclave: a network namespace with only lo, plus a "
                    "shared uds: directory (emulated vsock). Needs root.",
        epilog="See docs/simulated-enclave.md.")
    sub = p.add_subparsers(dest="cmd", metavar="COMMAND", required=True)

    def enclave_opts(sp):
        sp.add_argument("--name", help=f"namespace name (<= {MAX_NAME_LEN} chars; "
                                       "default ph<pid>x<n>)")
        sp.add_argument("--uds", metavar="DIR",
                        help="shared Unix-socket directory (default: a temporary one, "
                             "removed on teardown)")

    sp = sub.add_parser("run", help="up, run CMD inside in the foreground, tear down",
                        usage="sim-enclave run [--name N] [--uds DIR] -- CMD [ARGS...]")
    enclave_opts(sp)
    sp = sub.add_parser("up", help="create an enclave and leave it up (prints shell "
                                   "assignments of PORTHOLE_NETNS and PORTHOLE_UDS_DIR)")
    enclave_opts(sp)
    sp = sub.add_parser("exec", help="run CMD inside an existing enclave",
                        usage="sim-enclave exec NAME -- CMD [ARGS...]")
    sp.add_argument("name", metavar="NAME")
    sp = sub.add_parser("down", help="kill everything in an enclave and remove it")
    sp.add_argument("name", metavar="NAME")
    sp = sub.add_parser("gc", help="remove enclaves whose creating process is dead")
    sp.add_argument("--all", action="store_true",
                    help="also remove enclaves left up by `sim-enclave up`")
    sub.add_parser("list", help="list enclaves created by this tool")
    return p


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    opts, command = _split_command(argv)
    parser = _parser()
    args = parser.parse_args(opts)
    needs_cmd = args.cmd in ("run", "exec")
    if needs_cmd and not command:
        parser.error(f"{args.cmd}: missing command (sim-enclave {args.cmd} ... -- CMD ARGS...)")
    if not needs_cmd and command is not None:
        parser.error(f"{args.cmd} takes no command")

    router = _SignalRouter()
    router.install()
    try:
        if args.cmd == "run":
            return _cmd_run(args, command, router)
        if args.cmd == "up":
            return _cmd_up(args, router)
        if args.cmd == "exec":
            return _cmd_exec(args, command, router)
        if args.cmd == "down":
            return _cmd_down(args)
        if args.cmd == "gc":
            return _cmd_gc(args)
        return _cmd_list(args)
    except SimEnclaveError as e:
        print(f"sim-enclave: error: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"sim-enclave: error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
