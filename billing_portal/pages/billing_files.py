"""/billing/files: upload (drag and drop or the file chooser, several at once, with progress), storage
used against the plan's quota, the list filtered, searched, sorted and paged on the server, details,
share links and delete."""

import reflex as rx

from billing_portal.billing import files
from billing_portal.components.billing import empty_list, filter_select, guarded, labelled, page_header, page_nav
from billing_portal.components.forms import error_callout
from billing_portal.components.layout import page_shell
from billing_portal.settings import get_settings
from billing_portal.state.files import (
    CATEGORY_FILTERS,
    ROUTE,
    SORT_OPTIONS,
    UPLOAD_ID,
    FileRowView,
    FilesState,
)

TITLE = "Files · Billing Portal"
# What the file chooser offers and the dropzone lets through; the server decides by content.
ACCEPT = {kind.mime: [f".{ext}" for ext in kind.extensions] for kind in files.KINDS.values()}
CATEGORY_ICONS = {"image": "image", "video": "film", "document": "file_text"}
# Read by screen readers, not shown.
SCREEN_READER_ONLY = {"position": "absolute", "width": "1px", "height": "1px", "overflow": "hidden",
                      "clip": "rect(0 0 0 0)", "whiteSpace": "nowrap"}


def _usage() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.text("Storage", size="2", weight="medium"),
                rx.text(
                    FilesState.used_label, " of ", FilesState.quota_label, " used",
                    size="2", color=rx.color("gray", 11), id="storage-used",
                ),
                justify="between",
                width="100%",
                wrap="wrap",
            ),
            rx.cond(
                FilesState.unlimited,
                rx.fragment(),
                rx.progress(value=FilesState.used_percent, max=100, size="2", width="100%", aria_label="Storage used"),
            ),
            spacing="2",
            width="100%",
        ),
        size="2",
        width="100%",
    )


def _upload_zone() -> rx.Component:
    limit = files.human_size(get_settings().max_upload_bytes)
    return rx.upload(
        rx.vstack(
            rx.icon("cloud_upload", size=32, color=rx.color("accent", 9)),
            rx.text("Drag files here", size="3", weight="medium"),
            rx.hstack(
                rx.text("or", size="2", color=rx.color("gray", 11)),
                rx.button("Choose files", type="button", variant="soft", size="2", id="choose-files"),
                align="center",
                spacing="2",
            ),
            rx.text(
                f"{files.ALLOWED_LABEL}, up to {limit} each.",
                size="1",
                color=rx.color("gray", 10),
                text_align="center",
            ),
            align="center",
            spacing="2",
        ),
        id=UPLOAD_ID,
        multiple=True,
        accept=ACCEPT,
        max_size=get_settings().max_upload_bytes,
        disabled=FilesState.uploading,
        on_drop=FilesState.upload(
            rx.upload_files_chunk(upload_id=UPLOAD_ID, on_upload_progress=FilesState.set_progress)
        ),
        on_drop_rejected=FilesState.refuse_in_browser,
        border=f"2px dashed {rx.color('accent', 7)}",
        border_radius="var(--radius-4)",
        background_color=rx.color("accent", 2),
        padding=["20px", "28px"],
        width="100%",
        cursor="pointer",
        drag_active_style={"background_color": rx.color("accent", 4), "border_color": rx.color("accent", 9)},
        aria_label="Upload files",
    )


def _upload_progress() -> rx.Component:
    return rx.cond(
        FilesState.uploading,
        rx.vstack(
            rx.text(
                rx.cond(
                    FilesState.progress < 100,
                    "Uploading… " + FilesState.progress.to_string() + "%",
                    "Checking and storing the files…",
                ),
                size="2",
                id="upload-status",
            ),
            rx.progress(value=FilesState.progress, max=100, size="2", width="100%", id="upload-progress",
                        aria_label="Upload progress"),
            spacing="2",
            width="100%",
            role="status",
        ),
    )


def _refusals() -> rx.Component:
    return rx.cond(
        FilesState.refusals.length() > 0,
        rx.callout.root(
            rx.callout.icon(rx.icon("triangle_alert")),
            rx.vstack(
                rx.text("Not uploaded:", weight="bold", size="2"),
                rx.el.ul(
                    rx.foreach(FilesState.refusals, lambda text: rx.el.li(rx.text(text, size="2"), class_name="refusal")),
                    padding_left="18px",
                    margin="0",
                ),
                spacing="1",
            ),
            color_scheme="red",
            role="alert",
            width="100%",
            id="upload-refusals",
        ),
    )


def _notice() -> rx.Component:
    return rx.cond(
        FilesState.notice != "",
        rx.callout(FilesState.notice, icon="circle_check", color_scheme="green", role="status", width="100%",
                   id="files-notice"),
    )


def _filters() -> rx.Component:
    return rx.grid(
        labelled(
            "Search by name",
            "files-search",
            rx.input(
                rx.input.slot(rx.icon("search", size=16)),
                id="files-search",
                placeholder="Name contains…",
                value=FilesState.search,
                on_change=FilesState.set_search,
                debounce_timeout=300,
                max_length=files.MAX_SEARCH_CHARS,
                size="2",
                width="100%",
                type="search",
            ),
        ),
        filter_select("Type", "files-category", CATEGORY_FILTERS, FilesState.category, FilesState.set_category,
                      "All types"),
        filter_select("Sort", "files-sort", SORT_OPTIONS, FilesState.sort, FilesState.set_sort),
        columns=rx.breakpoints(initial="1", sm="3"),
        spacing="3",
        width="100%",
        role="group",
        aria_label="Find files",
    )


def _actions(row: FileRowView) -> rx.Component:
    return rx.hstack(
        rx.icon_button(rx.icon("info", size=16), on_click=FilesState.open_details(row.id), variant="ghost",
                       size="2", aria_label="Details and share " + row.name, title="Details and share"),
        rx.icon_button(rx.icon("download", size=16), on_click=FilesState.download(row.id), variant="ghost",
                       size="2", aria_label="Download " + row.name, title="Download"),
        rx.icon_button(rx.icon("trash_2", size=16), on_click=FilesState.ask_delete(row.id), variant="ghost",
                       color_scheme="red", size="2", aria_label="Delete " + row.name, title="Delete"),
        spacing="3",
        justify="end",
    )


def _name(row: FileRowView) -> rx.Component:
    return rx.hstack(
        rx.icon(rx.match(row.category, *CATEGORY_ICONS.items(), "file"), size=18, color=rx.color("gray", 10),
                flex_shrink="0"),
        rx.link(row.name, on_click=FilesState.open_details(row.id), size="2", weight="medium", cursor="pointer",
                class_name="file-name", overflow_wrap="anywhere"),
        spacing="2",
        align="center",
        min_width="0",
    )


def _table_row(row: FileRowView) -> rx.Component:
    return rx.table.row(
        rx.table.cell(_name(row), max_width="420px"),
        rx.table.cell(row.kind),
        rx.table.cell(rx.text(row.size_label, white_space="nowrap")),
        rx.table.cell(rx.text(row.uploaded_label, white_space="nowrap")),
        rx.table.cell(_actions(row), justify="end"),
        class_name="file-row",
        data_category=row.category,
        align="center",
    )


def _table() -> rx.Component:
    return rx.table.root(
        rx.table.header(
            rx.table.row(
                rx.table.column_header_cell("Name"),
                rx.table.column_header_cell("Type"),
                rx.table.column_header_cell("Size"),
                rx.table.column_header_cell("Uploaded"),
                rx.table.column_header_cell(rx.el.span("Actions", style=SCREEN_READER_ONLY), justify="end"),
            )
        ),
        rx.table.body(rx.foreach(FilesState.rows, _table_row)),
        variant="surface",
        size="2",
        width="100%",
        id="files-table",
        display=["none", "none", "table"],
    )


def _card(row: FileRowView) -> rx.Component:
    return rx.hstack(
        rx.vstack(
            _name(row),
            rx.text(row.kind, " · ", row.size_label, " · ", row.uploaded_label, size="1", color=rx.color("gray", 10)),
            spacing="1",
            min_width="0",
            flex="1",
        ),
        _actions(row),
        justify="between",
        align="center",
        spacing="2",
        padding="12px",
        border_bottom=f"1px solid {rx.color('gray', 4)}",
        width="100%",
        class_name="file-card",
        data_category=row.category,
    )


def _cards() -> rx.Component:
    return rx.card(rx.foreach(FilesState.rows, _card), size="1", padding="0", width="100%", id="files-cards",
                   display=["block", "block", "none"])


def _empty() -> rx.Component:
    return empty_list("folder_open", filtered=FilesState.filtered, on_clear=FilesState.clear_filters,
                      nothing_matches="No files match.", none_yet="No files yet",
                      hint="Drop files above to keep them here.", list_id="files-empty")


def _fact(label: str, value, **props) -> rx.Component:
    return rx.data_list.item(
        rx.data_list.label(label, min_width="96px"),
        rx.data_list.value(value, **props),
    )


def _details_dialog() -> rx.Component:
    low, high = files.SHARE_HOURS
    d = FilesState.details
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(d.name, overflow_wrap="anywhere"),
            rx.dialog.description("File details and share link", style=SCREEN_READER_ONLY),
            rx.vstack(
                rx.data_list.root(
                    _fact("Type", d.kind + " (" + d.content_type + ")", overflow_wrap="anywhere"),
                    _fact("Size", d.size_label + " · " + d.size_bytes_label, id="details-size"),
                    _fact("Uploaded", d.uploaded_label),
                    _fact("SHA-256", rx.code(d.sha256, size="1", variant="ghost", id="details-sha256",
                                             style={"wordBreak": "break-all"})),
                    orientation=rx.breakpoints(initial="vertical", sm="horizontal"),
                    size="2",
                    width="100%",
                ),
                rx.separator(size="4"),
                rx.heading("Share", size="3", as_="h3"),
                rx.form(
                    rx.flex(
                        rx.vstack(
                            rx.el.label(rx.text("Link valid for (hours)", size="2", weight="medium"),
                                        html_for="share-hours"),
                            rx.input(id="share-hours", name="hours", type="number", min=low, max=high, step=1,
                                     value=FilesState.share_hours, on_change=FilesState.set_share_hours,
                                     size="2", width="140px", aria_describedby="share-hours-hint"),
                            spacing="1",
                        ),
                        rx.button("Create link", type="submit", loading=FilesState.sharing, size="2"),
                        spacing="3",
                        align="end",
                        wrap="wrap",
                    ),
                    on_submit=FilesState.create_share_link,
                    reset_on_submit=False,
                    no_validate=True,  # hours outside 24-168 get the server's message, not the browser's
                ),
                rx.text(f"From {low} hours (1 day) to {high} hours (7 days).", size="1",
                        color=rx.color("gray", 10), id="share-hours-hint"),
                rx.cond(
                    FilesState.details_error != "",
                    rx.callout(FilesState.details_error, icon="triangle_alert", color_scheme="red", role="alert",
                               size="1", width="100%", id="share-error"),
                ),
                rx.cond(
                    FilesState.share_url != "",
                    rx.vstack(
                        rx.hstack(
                            rx.input(value=FilesState.share_url, read_only=True, id="share-url", size="2",
                                     flex="1", min_width="0", aria_label="Share link"),
                            rx.button(rx.icon("copy", size=16), "Copy", type="button", variant="soft", size="2",
                                      on_click=[rx.set_clipboard(FilesState.share_url),
                                                rx.toast.success("Link copied")]),
                            width="100%",
                            spacing="2",
                        ),
                        rx.text(FilesState.share_note, size="1", color=rx.color("gray", 11), id="share-note"),
                        spacing="2",
                        width="100%",
                    ),
                ),
                rx.flex(
                    rx.button(rx.icon("trash_2", size=16), "Delete", color_scheme="red", variant="soft", size="2",
                              on_click=FilesState.ask_delete(d.id)),
                    rx.dialog.close(rx.button("Close", variant="soft", color_scheme="gray", size="2")),
                    justify="between",
                    width="100%",
                    padding_top="8px",
                ),
                spacing="3",
                width="100%",
            ),
            max_width="560px",
            id="file-details",
        ),
        open=FilesState.details_open,
        on_open_change=FilesState.set_details_open,
    )


def _delete_dialog() -> rx.Component:
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title("Delete this file?"),
            rx.alert_dialog.description(
                "“", FilesState.delete_name, "” is removed for good, and its share links stop working.",
                overflow_wrap="anywhere",
            ),
            rx.flex(
                rx.alert_dialog.cancel(rx.button("Keep it", variant="soft", color_scheme="gray")),
                rx.button("Delete file", color_scheme="red", on_click=FilesState.confirm_delete,
                          loading=FilesState.deleting, id="confirm-delete"),
                spacing="3",
                justify="end",
                padding_top="16px",
            ),
            max_width="440px",
        ),
        open=FilesState.delete_open,
        on_open_change=FilesState.set_delete_open,
    )


def billing_files_page() -> rx.Component:
    results = rx.box(
        rx.cond(FilesState.rows.length() > 0, rx.box(_table(), _cards(), width="100%"), _empty()),
        opacity=rx.cond(FilesState.loading, "0.55", "1"),
        aria_busy=FilesState.loading,
        width="100%",
    )
    body = rx.vstack(
        _usage(),
        _upload_zone(),
        _upload_progress(),
        _refusals(),
        _notice(),
        _filters(),
        rx.text(FilesState.summary, size="2", color=rx.color("gray", 11), id="files-summary"),
        results,
        page_nav(FilesState.page, FilesState.pages, FilesState.previous_page, FilesState.next_page, page_id="files-page"),
        _details_dialog(),
        _delete_dialog(),
        spacing="4",
        width="100%",
    )
    return page_shell(
        rx.vstack(
            page_header("Files", "Keep images, videos and documents, and share them with a link.", "Files"),
            error_callout(FilesState.error),
            guarded(body, loaded=FilesState.loaded),
            spacing="5",
            width="100%",
        ),
    )
