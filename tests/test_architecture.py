"""The layering rules of ARCHITECTURE.md, checked on the source."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "billing_portal"

# module imported -> the only file allowed to import it
GATEWAY_OWNERS = {
    "stripe": "gateways/stripe_gateway.py",
    "boto3": "gateways/storage.py",
    "reportlab": "gateways/pdf.py",
    "smtplib": "gateways/mailer.py",
}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def sources() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_the_engine_imports_nothing_from_reflex():
    offenders = [p for p in (PACKAGE / "billing").rglob("*.py") if "reflex" in imported_modules(p)]
    assert offenders == []


@pytest.mark.parametrize("module, owner", sorted(GATEWAY_OWNERS.items()))
def test_each_outside_service_is_imported_by_its_gateway_only(module, owner):
    importers = [str(p.relative_to(PACKAGE)) for p in sources() if module in imported_modules(p)]
    assert set(importers) <= {owner}
