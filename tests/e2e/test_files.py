"""A person keeps files: uploads two with the file chooser (watching the progress bar) and one by
drag and drop, sees a program renamed .pdf refused with a clear message and no row, filters,
searches, sorts, reads a file's details, shares it (the link downloads the file over HTTP), and
deletes one. A fresh account, so the demo customer's data stays as other tests expect it.
Screenshots at desktop and phone widths."""

import base64
import hashlib
import re
import urllib.request

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.billing.test_files import exe, image, mp4, pdf_sample
from tests.e2e.people import DESKTOP, PHONE, patient_expectations, sign_in, sign_up  # noqa: F401 (a fixture)

pytestmark = pytest.mark.usefixtures("patient_expectations")

PHOTO = image("PNG") + b"\x00" * (6 * 1024 * 1024)  # large enough to watch the progress bar
CONTRACT = pdf_sample("Service contract 2026")
CLIP = mp4()


def choose_files(page: Page, *files: tuple[str, str, bytes]) -> None:
    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name="Choose files").click()
    chooser.value.set_files([{"name": name, "mimeType": mime, "buffer": data} for name, mime, data in files])


def drop_file(page: Page, name: str, mime: str, data: bytes) -> None:
    """What the browser does when a file from the desktop is dropped on the zone."""
    transfer = page.evaluate_handle(
        """({name, mime, b64}) => {
            const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], name, {type: mime}));
            return transfer;
        }""",
        {"name": name, "mime": mime, "b64": base64.b64encode(data).decode()},
    )
    zone = page.locator(".rx-Upload")
    for event in ("dragenter", "dragover", "drop"):
        zone.dispatch_event(event, {"dataTransfer": transfer})


def names(page: Page) -> list[str]:
    return page.locator("#files-table .file-row .file-name").all_inner_texts()


def throttle_uploads(page: Page, bytes_per_second: int | None) -> None:
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", {
        "offline": False, "latency": 0, "downloadThroughput": -1,
        "uploadThroughput": bytes_per_second if bytes_per_second else -1,
    })


def test_upload_list_share_and_delete(browser: Browser, app_url, storage_env, screenshots_dir):
    context = browser.new_context(viewport=DESKTOP, base_url=app_url)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=app_url)
    page = context.new_page()
    email = sign_up(page, "Seo-yeon Park", "files")
    page.goto("/billing")
    page.get_by_role("navigation", name="Billing sections").get_by_role("link", name="Files").click()
    expect(page).to_have_url(re.compile(r"/billing/files/?$"))
    expect(page.locator("#files-empty")).to_contain_text("No files yet")
    expect(page.locator("#storage-used")).to_have_text("0 bytes of 1 GB used")
    page.screenshot(path=screenshots_dir / "files-empty-desktop.png", full_page=True)

    # --- two files with the file chooser, watching the progress --------------------------------
    throttle_uploads(page, 2 * 1024 * 1024)
    choose_files(page, ("team-photo.png", "image/png", PHOTO), ("contract.pdf", "application/pdf", CONTRACT))
    expect(page.locator("#upload-progress")).to_be_visible()
    expect(page.locator("#upload-status")).to_have_text(re.compile(r"^Uploading… ([1-9]\d?)%$"), timeout=10_000)
    page.screenshot(path=screenshots_dir / "files-uploading-desktop.png", full_page=True)
    expect(page.locator("#files-notice")).to_have_text(
        "Uploaded 2 files: “team-photo.png”, “contract.pdf”.", timeout=30_000)
    throttle_uploads(page, None)
    expect(page.locator("#upload-progress")).to_have_count(0)
    expect(page.locator("#files-table .file-row")).to_have_count(2)
    expect(page.locator("#storage-used")).to_have_text("6.0 MB of 1 GB used")

    # --- one by drag and drop --------------------------------------------------------------------
    drop_file(page, "launch-clip.mp4", "video/mp4", CLIP)
    expect(page.locator("#files-notice")).to_have_text("Uploaded “launch-clip.mp4”.")
    expect(page.locator("#files-table .file-row")).to_have_count(3)
    assert names(page) == ["launch-clip.mp4", "contract.pdf", "team-photo.png"]  # newest first

    # --- a program renamed .pdf: a clear message, and no row -------------------------------------
    choose_files(page, ("setup-invoice.pdf", "application/pdf", exe()))
    refusal = page.locator("#upload-refusals")
    expect(refusal).to_contain_text("“setup-invoice.pdf” is not a file type we accept. Upload JPG, PNG, WebP")
    expect(page.locator("#files-table .file-row")).to_have_count(3)
    expect(page.locator("#files-table")).not_to_contain_text("setup-invoice")
    page.screenshot(path=screenshots_dir / "files-refused-desktop.png", full_page=True)

    # --- filter, search, sort (on the server) ----------------------------------------------------
    def pick(label: str, option: str) -> None:
        page.get_by_role("combobox", name=label).click()
        page.get_by_role("option", name=option, exact=True).click()

    pick("Type", "Images")
    expect(page.locator("#files-table .file-row")).to_have_count(1)
    expect(page.locator("#files-table .file-row")).to_have_attribute("data-category", "image")
    pick("Type", "Videos")
    expect(page.locator("#files-table .file-name")).to_have_text(["launch-clip.mp4"])
    pick("Type", "Documents")
    expect(page.locator("#files-table .file-name")).to_have_text(["contract.pdf"])
    pick("Type", "All types")
    page.get_by_label("Search by name").fill("PHOTO")
    expect(page.locator("#files-table .file-name")).to_have_text(["team-photo.png"])
    page.get_by_label("Search by name").fill("nothing-like-this")
    expect(page.locator("#files-empty")).to_contain_text("No files match.")
    page.get_by_role("button", name="Clear filters").click()
    expect(page.locator("#files-table .file-row")).to_have_count(3)
    pick("Sort", "Name A–Z")
    expect(page.locator("#files-table .file-name")).to_have_text(["contract.pdf", "launch-clip.mp4", "team-photo.png"])
    pick("Sort", "Largest first")
    expect(page.locator("#files-table .file-name").first).to_have_text("team-photo.png")
    expect(page.locator("#files-summary")).to_have_text("3 files · page 1 of 1")

    # --- details and a share link ----------------------------------------------------------------
    page.get_by_role("button", name="Details and share contract.pdf").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("heading", name="contract.pdf")).to_be_visible()
    expect(dialog.locator("#details-sha256")).to_have_text(hashlib.sha256(CONTRACT).hexdigest())
    expect(dialog.locator("#details-size")).to_contain_text(f"{len(CONTRACT):,} bytes")
    expect(dialog).to_contain_text("PDF (application/pdf)")
    hours = dialog.get_by_label("Link valid for (hours)")
    hours.fill("200")
    dialog.get_by_role("button", name="Create link").click()
    expect(dialog.locator("#share-error")).to_have_text("A share link lasts 24 to 168 hours (1 to 7 days).")
    expect(dialog.locator("#share-url")).to_have_count(0)
    hours.fill("48")
    dialog.get_by_role("button", name="Create link").click()
    expect(dialog.locator("#share-note")).to_have_text(
        "Anyone with this link can download the file for 48 hours (2 days).")
    link = dialog.locator("#share-url").input_value()
    if storage_env:  # E2E_STORAGE=s3: a presigned link straight to the bucket
        assert link.startswith(f"{storage_env['S3_ENDPOINT_URL']}/e2e-files/files/") and "Signature=" in link
    else:
        assert link.startswith(f"{app_url}/api/files/download?token=")
    dialog.get_by_role("button", name="Copy").click()
    expect(page.get_by_text("Link copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == link
    page.screenshot(path=screenshots_dir / "files-share-desktop.png", full_page=True)
    with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(link, timeout=10) as response:
        assert response.read() == CONTRACT
        assert "attachment" in response.headers["Content-Disposition"]
        assert "contract.pdf" in response.headers["Content-Disposition"]
    dialog.get_by_role("button", name="Close").click()

    # --- delete, after saying yes ----------------------------------------------------------------
    page.get_by_role("button", name="Delete launch-clip.mp4").click()
    confirm = page.get_by_role("alertdialog")
    expect(confirm).to_contain_text("“launch-clip.mp4” is removed for good")
    confirm.get_by_role("button", name="Keep it").click()
    expect(page.locator("#files-table .file-row")).to_have_count(3)
    page.get_by_role("button", name="Delete launch-clip.mp4").click()
    page.get_by_role("alertdialog").get_by_role("button", name="Delete file").click()
    expect(page.locator("#files-notice")).to_have_text("Deleted “launch-clip.mp4”.")
    expect(page.locator("#files-table .file-row")).to_have_count(2)
    expect(page.locator("#files-table")).not_to_contain_text("launch-clip.mp4")
    page.screenshot(path=screenshots_dir / "files-desktop.png", full_page=True)
    context.close()

    # --- the same account on a phone -------------------------------------------------------------
    phone = browser.new_context(viewport=PHONE, base_url=app_url, is_mobile=True, has_touch=True)
    page = phone.new_page()
    page.goto("/login?next=/billing/files")
    sign_in(page, email)
    expect(page.locator("#files-cards .file-card")).to_have_count(2)
    expect(page.locator("#files-table")).to_be_hidden()
    page.screenshot(path=screenshots_dir / "files-phone.png", full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.get_by_role("button", name="Details and share team-photo.png").click()
    expect(page.get_by_role("dialog").locator("#details-sha256")).to_have_text(hashlib.sha256(PHOTO).hexdigest())
    page.screenshot(path=screenshots_dir / "files-details-phone.png")
    phone.close()


def test_the_files_page_needs_a_sign_in(browser: Browser, app_url):
    context = browser.new_context(viewport=DESKTOP, base_url=app_url)
    page = context.new_page()
    page.goto("/billing/files")
    expect(page).to_have_url(re.compile(r"/login\?next=/billing/files$"))
    context.close()
