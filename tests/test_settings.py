"""Settings: every field is documented in .env.example, and the example itself is valid."""

import re

import pytest
from pydantic import ValidationError

from billing_portal.settings import PROJECT_ROOT, Settings

EXAMPLE = PROJECT_ROOT / ".env.example"


def test_every_setting_is_documented_in_env_example():
    documented = set(re.findall(r"^([A-Z][A-Z0-9_]*)=", EXAMPLE.read_text(), flags=re.M))
    fields = {name.upper() for name in Settings.model_fields}
    assert fields - documented == set(), "document these in .env.example"
    assert documented - fields == set(), ".env.example names settings that do not exist"


def test_env_example_parses():
    settings = Settings(_env_file=EXAMPLE)
    assert settings.redis_url is None  # empty means unset
    assert settings.allowed_origins == ["http://localhost:3000"]
    assert str(settings.tax_rates["KR"].rate) == "10"


def test_secrets_do_not_show_in_reprs():
    text = repr(Settings(_env_file=None, stripe_secret_key="sk_test_hidden123"))
    assert "sk_test_hidden123" not in text


@pytest.mark.parametrize("field, value", [("invoice_number_prefix", "inv-2026"), ("storage_backend", "ftp"),
                                          ("session_days", 0)])
def test_bad_settings_are_refused_with_the_field_named(field, value):
    with pytest.raises(ValidationError, match=field):
        Settings(_env_file=None, **{field: value})


@pytest.mark.parametrize("origins", ['["*"]', '["https://*.example.com"]', "[]", '[""]'])
def test_allowed_origins_must_be_explicit(origins, monkeypatch):
    monkeypatch.setenv("ALLOWED_ORIGINS", origins)
    with pytest.raises(ValueError, match="exact origins"):
        Settings(_env_file=None)
