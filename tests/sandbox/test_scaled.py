"""`make run-scaled`'s settings: what the portal and the job worker start with is a valid scale-out setup."""

from billing_portal.sandbox.scaled import scaled_env
from billing_portal.settings import Settings


def test_the_scaled_environment_is_a_valid_scale_out_setup(monkeypatch):
    env = scaled_env("postgresql+psycopg://postgres@127.0.0.1:55433/billing", "redis://127.0.0.1:56380/0",
                     "http://localhost:3000", backend_workers=2)
    assert env["GRANIAN_WORKERS"] == "2"
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = Settings(_env_file=None)
    assert settings.jobs_backend == "procrastinate" and settings.redis_url == "redis://127.0.0.1:56380/0"
    assert settings.allowed_origins == ["http://localhost:3000"] and settings.api_url == settings.public_url
