"""A 50 MB upload through the app's upload path into S3 on a moto server.

Ours: 64 KiB chunks, as Reflex's chunked upload hands them to the files page's background handler,
go through `state/files._FileFeed` (bounded queue, worker thread) into `billing/files.upload`
(type sniffing, quota, sha256) and the storage gateway's S3 multipart writer. The bare version is
boto3's `upload_fileobj` of the same file with its default transfer settings, in the same run.

Each upload runs in a fresh subprocess: after imports and a small warm-up upload, the child resets
its peak RSS (`/proc/self/clear_refs` 5 resets VmHWM) and reads VmHWM after the upload, so the
growth is what the upload itself held at its worst. Goals: peak RSS growth < 32 MB; throughput
>= 0.8 x bare (median of BENCH_UPLOAD_ROUNDS rounds, each round one of each, interleaved).

    .venv/bin/python -m bench.upload
"""

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.report import emit

SIZE = 50_000_000
CHUNK = 64 * 1024
BUCKET = "bench-uploads"
ROUNDS = int(os.environ.get("BENCH_UPLOAD_ROUNDS", "3"))
RSS_GOAL_MB = 32
RATIO_GOAL = 0.8


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def make_source(path: Path) -> None:
    """A PDF by its first bytes (what the type check sniffs), then incompressible bytes."""
    with path.open("wb") as out:
        out.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
        left = SIZE - out.tell()
        while left:
            block = os.urandom(min(left, 1 << 20))
            out.write(block)
            left -= len(block)


# ---- children: one upload each, measured from inside


def _measure(upload) -> dict:
    profile = os.environ.get("BENCH_PROFILE")  # a path: pyinstrument's text report of the upload goes there
    if profile:
        from pyinstrument import Profiler

        profiler = Profiler(async_mode="disabled")
        profiler.start()
    Path("/proc/self/clear_refs").write_text("5")  # VmHWM := VmRSS
    before = _status_kb("VmRSS")
    began = time.perf_counter()
    upload()
    seconds = time.perf_counter() - began
    if profile:
        profiler.stop()
        Path(profile).write_text(profiler.output_text(unicode=True, show_all=False))
    peak = _status_kb("VmHWM")
    return {"seconds": seconds, "rss_before_kb": before, "peak_kb": peak, "growth_kb": peak - before}


def child_ours(source: Path, customer_id: int) -> dict:
    from billing_portal.gateways.storage import get_storage
    from billing_portal.state.files import _FileFeed

    async def send(path: Path, name: str) -> None:
        feed = _FileFeed(customer_id, name)
        with path.open("rb") as handle:
            while chunk := handle.read(CHUNK):
                await feed.feed(chunk)
        outcome, text = await feed.finish()
        if outcome != "stored":
            raise RuntimeError(text)

    warm = source.with_name("warm.pdf")
    warm.write_bytes(source.open("rb").read(1 << 20))
    asyncio.run(send(warm, "warm.pdf"))
    get_storage()  # the shared client exists before the measurement, as in a running app
    return _measure(lambda: asyncio.run(send(source, "big.pdf")))


def child_bare(source: Path) -> dict:
    import boto3
    from botocore.config import Config

    client = boto3.client("s3", endpoint_url=os.environ["S3_ENDPOINT_URL"], region_name="us-east-1",
                          config=Config(s3={"addressing_style": "path"}))
    warm = source.with_name("warm-bare.bin")
    warm.write_bytes(source.open("rb").read(1 << 20))
    with warm.open("rb") as handle:
        client.upload_fileobj(handle, BUCKET, "bare/warm")

    def upload() -> None:
        with source.open("rb") as handle:
            client.upload_fileobj(handle, BUCKET, f"bare/{time.time_ns()}")

    return _measure(upload)


# ---- the parent: stand-ins, data, rounds


def run_child(kind: str, source: Path, customer_id: int, env: dict) -> dict:
    out = subprocess.run([sys.executable, "-m", "bench.upload", "--child", kind, str(source), str(customer_id)],
                         env=env, capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        raise RuntimeError(f"{kind} upload failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    from sqlmodel import Session

    from billing_portal.db import engine_for
    from billing_portal.migrations import upgrade_to_head
    from tests.support.builders import make_customer
    from tests.support.stand_ins import http_request, start_moto

    work = Path(tempfile.mkdtemp(prefix="bench-upload-"))
    source = work / "big.pdf"
    make_source(source)
    url = f"sqlite:///{work / 'billing.db'}"
    upgrade_to_head(url)
    with Session(engine_for(url)) as session:
        customer_id = make_customer(session, "upload@example.com").id
        session.commit()
    with start_moto() as moto:
        env = {**os.environ, "DATABASE_URL": url, "BILLING_PORTAL_ENV_FILE": os.devnull, "STORAGE_BACKEND": "s3",
               "S3_BUCKET": BUCKET, "S3_ENDPOINT_URL": moto.url, "AWS_ACCESS_KEY_ID": "bench",
               "AWS_SECRET_ACCESS_KEY": "bench", "S3_ACCESS_KEY_ID": "bench", "S3_SECRET_ACCESS_KEY": "bench"}
        status, body = http_request("PUT", f"{moto.url}/{BUCKET}")
        if status != 200:
            raise RuntimeError(f"bucket not created: {status} {body[:200]!r}")
        ours, bare = [], []
        for _ in range(ROUNDS):
            ours.append(run_child("ours", source, customer_id, env))
            bare.append(run_child("bare", source, customer_id, {**env, "BENCH_PROFILE": ""}))
            http_request("POST", f"{moto.url}/moto-api/reset")  # moto keeps objects in memory
            http_request("PUT", f"{moto.url}/{BUCKET}")
    mb = SIZE / 1e6
    ours_rate = statistics.median(mb / r["seconds"] for r in ours)
    bare_rate = statistics.median(mb / r["seconds"] for r in bare)
    growth = max(r["growth_kb"] for r in ours) / 1024
    bare_growth = max(r["growth_kb"] for r in bare) / 1024
    emit("upload_50mb_peak_rss_growth", growth, "MiB", f"< {RSS_GOAL_MB} MB", bare_growth, growth < RSS_GOAL_MB,
         rounds=ROUNDS, each=[round(r["growth_kb"] / 1024, 1) for r in ours])
    emit("upload_50mb_throughput", ours_rate, "MB/s", f">= {RATIO_GOAL} x bare boto3 upload_fileobj", bare_rate,
         ours_rate >= RATIO_GOAL * bare_rate, rounds=ROUNDS,
         each=[round(mb / r["seconds"], 1) for r in ours], bare_each=[round(mb / r["seconds"], 1) for r in bare])


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        kind, source, customer = sys.argv[2], Path(sys.argv[3]), int(sys.argv[4])
        result = child_ours(source, customer) if kind == "ours" else child_bare(source)
        print(json.dumps(result))
    else:
        main()
