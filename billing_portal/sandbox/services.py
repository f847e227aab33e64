"""Local services as processes on loopback: the tests' stand-ins (a fresh port and temp dir each,
thrown away afterwards) and `make run-scaled`'s PostgreSQL and Redis (a fixed port, data kept
under .data/: pass `data_dir=` and `port=`). tests/support/stand_ins.py re-exports this module.

    handle = start_redis()        # or start_localstripe / start_moto / start_postgres
    handle.url                    # redis://127.0.0.1:PORT/0
    handle.stop()                 # also: `with start_redis() as handle: ...`

Every start waits until the service really answers (HTTP, socket PING, SQL `select 1`) and raises
`StandInError` with the tail of the process's log when it exits or does not answer in time. A
process that exits while starting (e.g. a port taken between `free_port()` and its bind) is retried
on a new port. Processes run in their own session (process group) with their output in a log file
in a fresh temp dir; `stop()` kills the whole group and removes the dir (set STAND_INS_KEEP=1 to
keep it; a `data_dir` passed in is always kept). Anything still running when the interpreter
exits normally is stopped by an atexit hook.

PostgreSQL refuses to run as root: when running as root, the cluster is created in a temp dir under
/tmp owned by the `postgres` user and initdb/pg_ctl run through `su postgres`. pg_ctl detaches the
server into its own session, so it is stopped with `pg_ctl stop -m immediate` (a kept cluster:
`-m fast`, so no commit is lost; SIGKILL fallback).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
LOOPBACK = "127.0.0.1"

__all__ = [
    "PostgresStandIn",
    "StandIn",
    "StandInError",
    "LOOPBACK",
    "REPO_ROOT",
    "create_database",
    "free_port",
    "http_request",
    "libpq_url",
    "start_localstripe",
    "start_moto",
    "start_postgres",
    "start_process",
    "start_redis",
    "stop_group",
]


class StandInError(RuntimeError):
    """A stand-in did not start (the message carries the tail of its log)."""


class _ExitedEarly(StandInError):
    """The process exited before answering: worth another try on a fresh port."""


# --------------------------------------------------------------------------------------------
# Small helpers


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port free on `host` right now (the caller must still handle losing the race)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


# Loopback requests must never go through an HTTP(S)_PROXY from the environment.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http_request(method: str, url: str, data: bytes | None = None, timeout: float = 10,
                 headers: Mapping[str, str] | None = None) -> tuple[int, bytes]:
    """(status, body) of one HTTP request, ignoring proxy settings; HTTP errors are returned, not raised."""
    request = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def _tail(path: Path | None, lines: int = 40) -> str:
    if path is None:
        return "(no log)"
    try:
        text = path.read_text(errors="replace")
    except OSError as error:
        return f"(cannot read {path}: {error})"
    return "\n".join(text.splitlines()[-lines:]) or "(log is empty)"


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _keep_workdirs() -> bool:
    return os.environ.get("STAND_INS_KEEP", "") not in ("", "0")


# --------------------------------------------------------------------------------------------
# Handles


class StandIn:
    """A started service: `.url`, `.port`, `.log_path`, `.startup_seconds`, `.stop()`."""

    def __init__(self, name: str, url: str, port: int, workdir: Path, log_path: Path,
                 proc: subprocess.Popen | None = None):
        self.name = name
        self.url = url
        self.port = port
        self.workdir = workdir
        self.log_path = log_path
        self.proc = proc
        self.startup_seconds: float | None = None
        self.keep_workdir = False  # a data dir the caller chose (run-scaled's .data/...)
        self._stopped = False
        self._lock = threading.Lock()
        _RUNNING.add(self)

    def __repr__(self) -> str:
        state = "stopped" if self._stopped else "running"
        return f"<{type(self).__name__} {self.name} {self.url} {state}>"

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def log_tail(self, lines: int = 40) -> str:
        return _tail(self.log_path, lines)

    @property
    def running(self) -> bool:
        return not self._stopped

    def stop(self) -> None:
        """Stop the service (idempotent) and remove its temp dir."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        try:
            self._terminate()
        finally:
            _RUNNING.discard(self)
            if not (_keep_workdirs() or self.keep_workdir):
                shutil.rmtree(self.workdir, ignore_errors=True)

    def _terminate(self) -> None:
        if self.proc is not None:
            stop_group(self.proc)


class PostgresStandIn(StandIn):
    """PostgreSQL: `.url` is SQLAlchemy's `postgresql+psycopg://...`, `.dsn` the libpq form."""

    def __init__(self, *args, data_dir: Path, as_postgres_user: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.data_dir = data_dir
        self.as_postgres_user = as_postgres_user

    @property
    def dsn(self) -> str:
        return libpq_url(self.url)

    def create_database(self, name: str) -> str:
        return create_database(self.url, name)

    def _terminate(self) -> None:
        pg_ctl = str(_pg_bin() / "pg_ctl")
        with contextlib.suppress(Exception):
            _run_pg(
                # A kept cluster shuts down cleanly: an immediate stop would lose the commits
                # synchronous_commit=off had not flushed yet.
                [pg_ctl, "-D", str(self.data_dir), "-m", "fast" if self.keep_workdir else "immediate",
                 "-w", "-t", "30", "stop"],
                self.workdir / "pg_ctl.log", self.as_postgres_user, self.workdir, timeout=40,
            )
        # Fallback when pg_ctl could not stop it: kill the postmaster named in postmaster.pid.
        pid_file = self.data_dir / "postmaster.pid"
        with contextlib.suppress(OSError, ValueError, IndexError):
            pid = int(pid_file.read_text().splitlines()[0])
            os.kill(pid, signal.SIGKILL)
            _wait_gone(pid, 5)


_RUNNING: set[StandIn] = set()


@atexit.register
def _stop_all() -> None:
    for handle in list(_RUNNING):
        with contextlib.suppress(Exception):
            handle.stop()


# --------------------------------------------------------------------------------------------
# Processes


def _spawn(cmd: Sequence[str], log_path: Path, cwd: Path | None = None,
           env: Mapping[str, str] | None = None) -> subprocess.Popen:
    with open(log_path, "ab") as log:
        log.write(f"$ {shlex.join(cmd)}\n".encode())
        log.flush()
        return subprocess.Popen(
            list(cmd), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            cwd=cwd, env=dict(env) if env is not None else None, start_new_session=True,
        )


def stop_group(proc: subprocess.Popen, grace: float = 5) -> None:
    """SIGTERM the process group led by `proc`, SIGKILL it after `grace` seconds, reap `proc`."""
    pgid = proc.pid  # start_new_session=True: the child leads its own group
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGTERM)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        pass
    # Also catches children that outlived the leader.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(grace)


def _wait_gone(pid: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)


def _make_workdir(prefix: str, owner: str | None = None, chosen: Path | None = None) -> Path:
    if chosen is not None:
        chosen.mkdir(parents=True, exist_ok=True)
        if owner is not None:
            shutil.chown(chosen, owner, owner)
        return chosen.resolve()
    if owner is None:
        return Path(tempfile.mkdtemp(prefix=prefix))
    # Under /tmp (not $TMPDIR, which may sit in a dir `owner` cannot traverse), then chown.
    path = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    shutil.chown(path, owner, owner)
    return path


def _wait_ready(handle: StandIn, ready: Callable[[StandIn], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while True:
        proc = handle.proc
        if proc is not None and proc.poll() is not None:
            raise _ExitedEarly(
                f"{handle.name} exited with code {proc.returncode} before answering on {handle.url}.\n"
                f"--- {handle.log_path} (tail) ---\n{handle.log_tail()}"
            )
        try:
            if ready(handle):
                if proc is None or proc.poll() is None:
                    return
                continue  # whatever answered was not our process: report the exit above
        except Exception as error:  # noqa: BLE001 - any failure means "not yet"
            last_error = error
        if time.monotonic() > deadline:
            raise StandInError(
                f"{handle.name} did not answer on {handle.url} within {timeout:g} s"
                f" (last error: {last_error!r}).\n--- {handle.log_path} (tail) ---\n{handle.log_tail()}"
            )
        time.sleep(0.05)


def start_process(
    name: str,
    make_cmd: Callable[[int, Path], Sequence[str]],
    url_template: str,
    ready: Callable[[StandIn], bool],
    *,
    timeout: float = 30,
    attempts: int = 3,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    data_dir: Path | None = None,
    port: int | None = None,
) -> StandIn:
    """Start `make_cmd(port, workdir)` on a free port and wait until `ready(handle)` is true.

    `url_template` is formatted with `port`. Retries on a fresh port when the process exits early.
    With `data_dir` and `port` it runs there (kept after stop) and is not retried elsewhere.
    """
    error: StandInError | None = None
    for _ in range(1 if port else max(1, attempts)):
        workdir = _make_workdir(f"stand-in-{name}-", chosen=data_dir)
        chosen_port = port or free_port()
        handle = StandIn(name, url_template.format(port=chosen_port), chosen_port, workdir, workdir / f"{name}.log")
        handle.keep_workdir = data_dir is not None
        started = time.monotonic()
        try:
            handle.proc = _spawn(make_cmd(chosen_port, workdir), handle.log_path, cwd=cwd, env=env)
            _wait_ready(handle, ready, timeout)
        except _ExitedEarly as exited:
            error = exited
            handle.stop()
            continue
        except BaseException:
            handle.stop()
            raise
        handle.startup_seconds = time.monotonic() - started
        return handle
    assert error is not None
    raise error


def _http_answers(path: str = "/", expect: Callable[[int], bool] = lambda status: True):
    def ready(handle: StandIn) -> bool:
        status, _ = http_request("GET", handle.url + path, timeout=2)
        return expect(status)
    return ready


# --------------------------------------------------------------------------------------------
# The stand-ins


def start_localstripe(timeout: float = 30) -> StandIn:
    """localstripe via billing_portal.sandbox.localstripe_server (memory-only store); url http://127.0.0.1:PORT."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    return start_process(
        "localstripe",
        lambda port, _: [sys.executable, "-m", "billing_portal.sandbox.localstripe_server", "--port", str(port)],
        f"http://{LOOPBACK}:{{port}}",
        _http_answers("/js.stripe.com/v3/", lambda status: status == 200),
        timeout=timeout, cwd=REPO_ROOT, env=env,
    )


def _moto_cmd() -> list[str]:
    beside = Path(sys.executable).parent / "moto_server"  # do not resolve: keep the venv's bin dir
    if beside.exists():
        return [str(beside)]
    return [sys.executable, "-m", "moto.server"]


def start_moto(timeout: float = 30) -> StandIn:
    """moto's server (S3 and the rest, in memory); url http://127.0.0.1:PORT; reset: POST /moto-api/reset."""
    return start_process(
        "moto",
        lambda port, _: [*_moto_cmd(), "-H", LOOPBACK, "-p", str(port)],
        f"http://{LOOPBACK}:{{port}}",
        _http_answers("/moto-api/data.json", lambda status: status == 200),
        timeout=timeout,
    )


def _redis_ping(handle: StandIn) -> bool:
    with socket.create_connection((LOOPBACK, handle.port), timeout=2) as sock:
        sock.sendall(b"*1\r\n$4\r\nPING\r\n")
        return sock.recv(64).startswith(b"+PONG")


def start_redis(timeout: float = 30, *, data_dir: Path | None = None, port: int | None = None) -> StandIn:
    """redis-server without persistence; url redis://127.0.0.1:PORT/0."""
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    if not Path(binary).exists():
        raise StandInError("redis-server not found: apt-get install -y redis-server")
    return start_process(
        "redis",
        lambda port, workdir: [
            binary, "--bind", LOOPBACK, "--port", str(port), "--daemonize", "no",
            "--save", "", "--appendonly", "no", "--dir", str(workdir), "--logfile", "",
        ],
        f"redis://{LOOPBACK}:{{port}}/0",
        _redis_ping,
        timeout=timeout, data_dir=data_dir, port=port,
    )


# ---- PostgreSQL


def _pg_bin() -> Path:
    """bin dir of the newest PostgreSQL under /usr/lib/postgresql (or $PG_BIN)."""
    if os.environ.get("PG_BIN"):
        return Path(os.environ["PG_BIN"])
    versions = sorted(
        (path for path in Path("/usr/lib/postgresql").glob("*/bin/initdb")),
        key=lambda path: [int(part) for part in re.findall(r"\d+", path.parent.parent.name)] or [0],
    )
    if not versions:
        initdb = shutil.which("initdb")
        if initdb:
            return Path(initdb).parent
        raise StandInError("PostgreSQL not found under /usr/lib/postgresql: apt-get install -y postgresql")
    return versions[-1].parent


def _pg_env() -> dict[str, str]:
    # PG* variables of the caller (PGDATA, PGPORT, PGHOST...) must not steer initdb/pg_ctl.
    return {key: value for key, value in os.environ.items() if not key.startswith("PG")}


def _run_pg(cmd: Sequence[str], log_path: Path, as_postgres_user: bool, cwd: Path,
            timeout: float) -> None:
    """Run a PostgreSQL tool (as user postgres when we are root); output to log_path; raise on failure."""
    argv = ["su", "postgres", "-s", "/bin/sh", "-c", shlex.join(cmd)] if as_postgres_user else list(cmd)
    with open(log_path, "ab") as log:
        log.write(f"$ {shlex.join(cmd)}\n".encode())
        log.flush()
        # A file, not a pipe: the detached postmaster must not hold our pipe open.
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                cwd=cwd, env=_pg_env(), start_new_session=True)
    try:
        returncode = proc.wait(timeout)
    except subprocess.TimeoutExpired:
        stop_group(proc, grace=1)
        raise subprocess.CalledProcessError(-1, cmd) from None
    if returncode != 0:
        raise subprocess.CalledProcessError(returncode, cmd)


def _pg_select_1(handle: StandIn) -> bool:
    import psycopg

    with psycopg.connect(libpq_url(handle.url), connect_timeout=2) as conn:
        return conn.execute("select 1").fetchone() == (1,)


def start_postgres(timeout: float = 60, attempts: int = 3, *, data_dir: Path | None = None,
                   port: int | None = None) -> PostgresStandIn:
    """A PostgreSQL cluster (trust auth, fsync off); url postgresql+psycopg://postgres@127.0.0.1:PORT/postgres.
    Throwaway by default; with `data_dir` (and `port`) the cluster lives there and is reused."""
    pg_bin = _pg_bin()
    as_postgres_user = _is_root()
    if as_postgres_user:
        import pwd

        try:
            pwd.getpwnam("postgres")
        except KeyError:
            raise StandInError("running as root but there is no `postgres` user (apt-get install -y postgresql)") from None
    error: StandInError | None = None
    chosen_dir, chosen_port = data_dir, port
    for _ in range(1 if chosen_port else max(1, attempts)):
        workdir = _make_workdir("stand-in-postgres-", owner="postgres" if as_postgres_user else None, chosen=chosen_dir)
        port = chosen_port or free_port()
        data_dir = workdir / "data"
        handle = PostgresStandIn(
            "postgres", f"postgresql+psycopg://postgres@{LOOPBACK}:{port}/postgres", port, workdir,
            workdir / "server.log", data_dir=data_dir, as_postgres_user=as_postgres_user,
        )
        handle.keep_workdir = chosen_dir is not None
        tool_log = workdir / "pg_ctl.log"
        started = time.monotonic()
        try:
            try:
                if not (data_dir / "PG_VERSION").exists():  # a kept cluster is reused
                    _run_pg([str(pg_bin / "initdb"), "-D", str(data_dir), "-U", "postgres", "--auth=trust",
                             "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"],
                            tool_log, as_postgres_user, workdir, timeout=timeout)
            except subprocess.CalledProcessError as failed:
                raise StandInError(f"initdb failed ({failed.returncode}).\n--- {tool_log} (tail) ---\n"
                                   f"{_tail(tool_log)}") from None
            options = shlex.join(["-p", str(port), "-k", str(workdir), "-c", f"listen_addresses={LOOPBACK}",
                                  "-c", "fsync=off", "-c", "synchronous_commit=off",
                                  "-c", "full_page_writes=off"])
            try:
                _run_pg([str(pg_bin / "pg_ctl"), "-D", str(data_dir), "-l", str(handle.log_path), "-w",
                         "-t", str(int(timeout)), "-o", options, "start"],
                        tool_log, as_postgres_user, workdir, timeout=timeout + 5)
            except subprocess.CalledProcessError as failed:
                raise _ExitedEarly(f"pg_ctl start failed ({failed.returncode}) on port {port}.\n"
                                   f"--- {tool_log} (tail) ---\n{_tail(tool_log, 10)}\n"
                                   f"--- {handle.log_path} (tail) ---\n{handle.log_tail()}") from None
            _wait_ready(handle, _pg_select_1, timeout)
        except _ExitedEarly as exited:
            error = exited
            handle.stop()
            continue
        except BaseException:
            handle.stop()
            raise
        handle.startup_seconds = time.monotonic() - started
        return handle
    assert error is not None
    raise error


def libpq_url(url: str) -> str:
    """`postgresql+psycopg://...` (SQLAlchemy) -> `postgresql://...` (libpq/psycopg)."""
    scheme, rest = url.split("://", 1)
    return f"{scheme.split('+', 1)[0]}://{rest}"


_DB_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]{0,62}$")


def create_database(url: str, name: str) -> str:
    """CREATE DATABASE `name` on the server of `url`; returns `url` pointing at the new database."""
    import psycopg
    from psycopg import sql

    if not _DB_NAME.match(name):
        raise ValueError(f"unsafe database name: {name!r}")
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(path=f"/{name}"))
