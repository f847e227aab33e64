"""rxconfig.py: the ports come from settings, and every mode of `reflex run` accepts them.

The slow test deploys as Reflex's own self-hosting docs say, from a fresh copy of the checkout (no
.env, no .web, no .data): `python -m billing_portal migrate`, then `reflex run --env prod
--backend-only --backend-port P`, and /api/health answers 200.
"""

import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import click

from billing_portal.settings import get_settings
from tests.support.stand_ins import REPO_ROOT, http_request, start_process


def _ports_in(params: dict | None) -> dict[str, int]:
    import rxconfig

    if params is None:
        return rxconfig._ports()
    with click.Context(click.Command("run"), info_name="run") as context:
        context.params.update(params)
        return rxconfig._ports()


def test_each_mode_of_reflex_run_gets_only_the_port_it_listens_on():
    settings = get_settings()
    both = {"frontend_port": settings.frontend_port, "backend_port": settings.backend_port}
    assert _ports_in({"env": "dev", "backend_only": False, "frontend_only": False}) == both
    assert _ports_in({"env": "prod", "backend_only": True, "frontend_only": False}) == {"backend_port": settings.backend_port}
    assert _ports_in({"env": "prod", "backend_only": False, "frontend_only": True}) == {"frontend_port": settings.frontend_port}
    # One port serves pages and backend in prod.
    assert _ports_in({"env": "prod", "backend_only": False, "frontend_only": False}) == {"frontend_port": settings.frontend_port}
    assert _ports_in(None) == both  # export, the backend's workers, tests


def _check_the_real_app(url: str) -> None:
    """What only the whole app shows (Reflex mounted behind our routes): a wrong method on an API
    route is our 405, not Reflex's answer, and every answer, Reflex's too, has an id and headers."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    for method, path, status in (("GET", "/api/usage", 405), ("DELETE", "/api/health", 405), ("GET", "/ping", 200)):
        try:
            answer = opener.open(urllib.request.Request(url + path, method=method), timeout=10)
        except urllib.error.HTTPError as error:
            answer = error
        assert answer.status == status, (method, path, answer.status)
        assert len(answer.headers["X-Request-Id"]) == 16 and answer.headers["X-Frame-Options"] == "DENY"
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        if status == 405:
            assert answer.headers["Allow"] in ("POST", "GET, HEAD"), path


def _fresh_checkout(target: Path) -> Path:
    """The files a clone of this working tree would have (tracked and new, not ignored)."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=REPO_ROOT, capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = REPO_ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


def test_reflex_run_prod_backend_only_serves_the_api_from_a_fresh_checkout(tmp_path):
    checkout = _fresh_checkout(tmp_path / "checkout")
    assert not (checkout / ".env").exists() and not (checkout / ".web").exists()
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'billing.db'}", "PYTHONUNBUFFERED": "1",
           "REFLEX_TELEMETRY_ENABLED": "false", "STORAGE_DIR": str(tmp_path / "files")}
    for name in ("BILLING_PORTAL_ENV_FILE", "REDIS_URL", "REFLEX_FRONTEND_PORT", "REFLEX_BACKEND_PORT"):
        env.pop(name, None)
    subprocess.run([sys.executable, "-m", "billing_portal", "migrate"], cwd=checkout, env=env, check=True,
                   capture_output=True, timeout=180)

    def command(port: int, _workdir) -> list[str]:
        return [sys.executable, "-m", "reflex", "run", "--env", "prod", "--backend-only", "--backend-port", str(port)]

    def healthy(handle) -> bool:
        return http_request("GET", handle.url + "/api/health", timeout=2)[0] == 200

    backend = start_process("reflex-backend-only", command, "http://127.0.0.1:{port}", healthy, cwd=checkout, env=env,
                            timeout=240)
    try:
        status, body = http_request("GET", backend.url + "/api/health")
        assert (status, body) == (200, b'{"status":"ok","database":"up"}')
        assert http_request("GET", backend.url + "/api/info")[0] == 200
        _check_the_real_app(backend.url)
    finally:
        backend.stop()
    assert "Cannot specify" not in backend.log_tail(200)

