"""The API app (build_api()) under granian on a loopback port: the routes over real HTTP."""

import os
import sys
from pathlib import Path

from tests.support.stand_ins import REPO_ROOT, StandIn, http_request, start_process


def start_api(db_url: str, **env: str) -> StandIn:
    """One granian worker on the test's database; `env` adds settings. Stop it with `.stop()`."""
    env = {**os.environ, "DATABASE_URL": db_url, "BILLING_PORTAL_ENV_FILE": os.devnull,
           "PYTHONPATH": str(REPO_ROOT), **env}
    granian = str(Path(sys.executable).parent / "granian")

    def ready(handle) -> bool:
        status, _ = http_request("GET", handle.url + "/api/health", timeout=2)
        return status == 200

    return start_process(
        "granian",
        lambda port, _: [granian, "--interface", "asgi", "--factory", "--host", "127.0.0.1", "--port", str(port),
                         "--workers", "1", "--no-ws", "billing_portal.api:build_api"],
        "http://127.0.0.1:{port}", ready, cwd=REPO_ROOT, env=env, timeout=30,
    )
