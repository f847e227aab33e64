"""The demo's mail sink: started as `make run` starts it, it keeps each message as an .eml file."""

import subprocess
import sys
import time
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

from billing_portal.gateways.mailer import Mailer
from billing_portal.settings import PROJECT_ROOT
from tests.support.stand_ins import free_port


def test_the_sink_saves_every_message_as_eml(tmp_path):
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "billing_portal.sandbox.mail_sink", "--port", str(port),
                             "--dir", str(tmp_path / "mail")], cwd=PROJECT_ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert "Mail sink on smtp://127.0.0.1:" in proc.stdout.readline()
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = "billing@localhost", "ana@example.com", "Invoice INV-2026-000001"
        msg.set_content("Total: ₩15,000")
        Mailer.from_url(f"smtp://127.0.0.1:{port}").send(msg)
        deadline = time.monotonic() + 10
        while not list((tmp_path / "mail").glob("*.eml")) and time.monotonic() < deadline:
            time.sleep(0.05)
        [saved] = list((tmp_path / "mail").glob("*.eml"))
        parsed = BytesParser(policy=policy.default).parsebytes(saved.read_bytes())
        assert parsed["Subject"] == "Invoice INV-2026-000001"
        assert parsed.get_body().get_content().strip() == "Total: ₩15,000"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert proc.returncode == 0
