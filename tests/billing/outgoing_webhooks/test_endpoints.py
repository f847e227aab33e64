"""What the admin page does with endpoints: refused input changes nothing, enable/disable, delete,
one page at a time, every change audited with the admin's id, customers refused."""

import pytest
from sqlmodel import func, select

from billing_portal.billing.accounts import CurrentUser
from billing_portal.billing.errors import DomainError, NotFound
from billing_portal.billing.outgoing_webhooks import delivery, endpoints, service
from billing_portal.models import AuditEntry, Role, WebhookDelivery, WebhookEndpoint
from billing_portal.models.types import utcnow
from billing_portal.settings import get_settings
from tests.support.builders import make_customer


def _count(s, model) -> int:
    return s.exec(select(func.count()).select_from(model)).one()


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080/x", "http://10.1.2.3/x", "https://localhost/x",
                                 "http://[::1]/x", "http://169.254.169.254/latest", "http://app.localhost/x"])
def test_private_and_loopback_addresses_are_refused_unless_allowed(monkeypatch, url):
    monkeypatch.setenv("OUTGOING_WEBHOOKS_ALLOW_PRIVATE", "false")
    get_settings.cache_clear()
    with pytest.raises(DomainError, match="private or loopback"):
        endpoints.check_form(url, "", ["invoice.paid"], every=False)
    monkeypatch.setenv("OUTGOING_WEBHOOKS_ALLOW_PRIVATE", "true")
    get_settings.cache_clear()
    assert endpoints.check_form(url, "", ["invoice.paid"], every=False).url == url


def test_a_public_address_or_a_host_name_passes_the_form(monkeypatch):
    monkeypatch.setenv("OUTGOING_WEBHOOKS_ALLOW_PRIVATE", "false")
    get_settings.cache_clear()
    for url in ("https://8.8.8.8/hooks", "https://hooks.example.com/in"):  # names: checked when sending
        assert endpoints.check_form(url, " App ", ["invoice.paid", "invoice.paid"], every=False).event_types == [
            "invoice.paid"]


def test_the_form_needs_event_types_or_all_events():
    with pytest.raises(DomainError, match="Choose the event types"):
        endpoints.check_form("https://example.com/x", "", [], every=False)
    assert endpoints.check_form("https://example.com/x", "", ["invoice.paid"], every=True).event_types == []


def test_disable_enable_and_delete_are_audited_with_the_admin(scope, admin, endpoint):
    with scope() as s:
        make_customer(s)  # customer.created: one pending delivery in the log
        assert endpoints.set_enabled(s, endpoint.id, admin=admin, enabled=False).enabled is False
        assert endpoints.set_enabled(s, endpoint.id, admin=admin, enabled=True).enabled is True
        rows, total = endpoints.endpoint_page(s, admin=admin, page=1, per_page=10)
        assert [r.id for r in rows] == [endpoint.id] and total == 1
        assert _count(s, WebhookDelivery) == 1
        endpoints.delete(s, endpoint.id, admin=admin)
    with scope() as s:
        assert _count(s, WebhookEndpoint) == 0 and _count(s, WebhookDelivery) == 0
        entries = s.exec(select(AuditEntry).where(AuditEntry.subject_type == "webhook_endpoint")
                         .order_by(AuditEntry.id)).all()
        assert [e.action for e in entries] == ["webhook_endpoint.create", "webhook_endpoint.update",
                                               "webhook_endpoint.update", "webhook_endpoint.delete"]
        assert {e.actor_user_id for e in entries} == {admin.user_id}
        assert all(endpoint.secret not in str(e.before) + str(e.after) for e in entries)
        with pytest.raises(NotFound):
            endpoints.delete(s, endpoint.id, admin=admin)
        assert service.emit(s, "invoice.paid", object()) is None  # nobody receives anything now


def test_a_customer_can_do_none_of_it(scope, admin, endpoint):
    with scope() as s:
        customer = make_customer(s)
    ana = CurrentUser(user_id=customer.user_id, email="ana@example.com", role=Role.CUSTOMER, customer_id=customer.id,
                      name="Ana Lima", currency="USD", locale="en_US")
    with scope() as s:
        for call in (lambda: endpoints.delete(s, endpoint.id, admin=ana),
                     lambda: endpoints.set_enabled(s, endpoint.id, admin=ana, enabled=False),
                     lambda: endpoints.endpoint_page(s, admin=ana, page=1, per_page=10)):
            with pytest.raises(NotFound):
                call()
    with scope() as s:
        assert s.get(WebhookEndpoint, endpoint.id).enabled is True


def test_the_log_pages_newest_first(scope, admin, endpoint, receiver):
    with scope() as s:
        for n in range(endpoints.LOG_PAGE_SIZE + 2):
            make_customer(s, f"c{n}@example.com")
    delivery.deliver_due(utcnow(), session_scope=scope)
    with scope() as s:
        first = endpoints.delivery_log(s, endpoint.id, admin=admin)
        second = endpoints.delivery_log(s, endpoint.id, admin=admin, page=2)
    assert len(first) == endpoints.LOG_PAGE_SIZE and len(second) == 2
    ids = [row.id for row, _event in first + second]
    assert ids == sorted(ids, reverse=True)
    assert {row.response_code for row, _event in first} == {204}
