"""tests.support.stand_ins: each stand-in answers like the real service, and stops cleanly."""

from __future__ import annotations

import os
import socket
import sys
import time

import boto3
import psycopg
import pytest

from tests.support import stand_ins


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie waiting for PID 1 to reap it is not running any more
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_free_port_is_bindable():
    port = stand_ins.free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


def test_moto_s3_put_and_get(moto_clean):
    s3 = boto3.client("s3", endpoint_url=moto_clean.url, region_name="us-east-1",
                      aws_access_key_id="test", aws_secret_access_key="test")
    s3.create_bucket(Bucket="invoices")
    s3.put_object(Bucket="invoices", Key="2026/INV-1.pdf", Body=b"%PDF-1.7 hello")
    assert s3.get_object(Bucket="invoices", Key="2026/INV-1.pdf")["Body"].read() == b"%PDF-1.7 hello"


def test_moto_clean_resets(moto_clean):
    s3 = boto3.client("s3", endpoint_url=moto_clean.url, region_name="us-east-1",
                      aws_access_key_id="test", aws_secret_access_key="test")
    assert s3.list_buckets()["Buckets"] == []


def test_postgres_select_1(postgres):
    assert postgres.url.startswith("postgresql+psycopg://postgres@127.0.0.1:")
    with psycopg.connect(postgres.dsn) as conn:
        assert conn.execute("select 1").fetchone() == (1,)


def test_create_database(postgres):
    url = stand_ins.create_database(postgres.url, "portal_test")
    assert url == postgres.url.rsplit("/", 1)[0] + "/portal_test"
    with psycopg.connect(stand_ins.libpq_url(url)) as conn:
        assert conn.execute("select current_database()").fetchone() == ("portal_test",)
    with pytest.raises(ValueError):
        stand_ins.create_database(postgres.url, 'x"; drop database postgres; --')


def test_redis_ping(redis):
    assert redis.url.startswith("redis://127.0.0.1:") and redis.url.endswith("/0")
    with socket.create_connection(("127.0.0.1", redis.port), timeout=5) as sock:
        sock.sendall(b"PING\r\n")
        assert sock.recv(64) == b"+PONG\r\n"


def test_process_that_exits_reports_its_log_and_is_retried():
    calls = []

    def cmd(port, workdir):
        calls.append(port)
        return [sys.executable, "-c", "import sys; print('cannot bind, giving up'); sys.exit(3)"]

    with pytest.raises(stand_ins.StandInError) as error:
        stand_ins.start_process("broken", cmd, "http://127.0.0.1:{port}", lambda handle: False, attempts=2)
    assert "exited with code 3" in str(error.value)
    assert "cannot bind, giving up" in str(error.value)
    assert len(calls) == 2


def test_process_that_never_answers_times_out_and_is_killed():
    pids = []

    def never(handle):
        pids.append(handle.proc.pid)
        return False

    with pytest.raises(stand_ins.StandInError) as error:
        stand_ins.start_process(
            "mute", lambda port, _: [sys.executable, "-c", "print('listening soon', flush=True); import time; time.sleep(300)"],
            "http://127.0.0.1:{port}", never, timeout=0.5,
        )
    assert "did not answer" in str(error.value) and "listening soon" in str(error.value)
    assert not _alive(pids[0])


def test_stop_kills_the_whole_process_group():
    handle = stand_ins.start_process(
        "group",
        lambda port, workdir: ["/bin/sh", "-c", f"sleep 300 & echo $! > {workdir}/child; touch {workdir}/ready; wait"],
        "http://127.0.0.1:{port}",
        lambda handle: (handle.workdir / "ready").exists() and (handle.workdir / "child").stat().st_size > 0,
    )
    child = int((handle.workdir / "child").read_text())
    assert _alive(child)
    workdir = handle.workdir
    handle.stop()
    handle.stop()  # idempotent
    deadline = time.monotonic() + 5
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child)
    assert not workdir.exists()
