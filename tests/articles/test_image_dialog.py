"""The editor's image dialog asks for what the sanitiser keeps: alternative text,
required; no width and height, which the dialog would write as an inline style
the sanitiser removes."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from playwright.sync_api import expect

from core.sanitize import sanitize_html
from tests.browser_fixtures import log_in
from tests.factories import image_bytes, make_staff

CONFIG = settings.CKEDITOR_CONFIGS["default"]


def plugin_source() -> str:
    ((name, base, file),) = CONFIG["external_plugin_resources"]
    assert name == "imagealt" and name in CONFIG["extraPlugins"].split(",")
    assert base.startswith(settings.STATIC_URL)
    found = finders.find(base.removeprefix(settings.STATIC_URL) + file)
    return Path(found).read_text()


def test_the_image_dialog_requires_alt_text_and_hides_the_size_fields():
    source = plugin_source()
    assert re.search(r'info\.get\("txtAlt"\)', source)
    assert "alt.required = true" in source
    assert "CKEDITOR.dialog.validate.notEmpty" in source
    assert '["txtWidth", "txtHeight", "ratioLock"]' in source
    assert "element.hidden = true" in source
    # Disallowed sizes: the dialog's commit writes none (it checks the filter).
    assert "width,height}" in CONFIG["disallowedContent"]


def test_the_sanitiser_keeps_alt_and_numeric_sizes_and_drops_style_sizes():
    # What the dialog would write with sizes allowed: an inline style, dropped.
    assert sanitize_html(
        html='<img src="/media/uploads/1/a.png" alt="A jar" '
        'style="width:640px;height:480px">'
    ) == ('<img src="/media/uploads/1/a.png" alt="A jar">')
    # Size attributes (from an import or pasted HTML) are kept when numbers.
    assert sanitize_html(
        html='<img src="/media/uploads/1/a.png" alt="A jar" width="640" height="480">'
    ) == ('<img src="/media/uploads/1/a.png" alt="A jar" width="640" height="480">')


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_dialog_refuses_an_image_without_alt_text(
    page, live_server, tmp_path, artifacts_dir
):
    staff = make_staff()
    picture = tmp_path / "cream.png"
    picture.write_bytes(image_bytes(size=(300, 200)))
    log_in(page, live_server, staff)
    page.goto(f"{live_server.url}/admin/articles/article/add/")
    page.wait_for_function(
        "() => window.CKEDITOR?.instances.id_body?.status === 'ready'"
    )
    page.frame_locator("iframe.cke_wysiwyg_frame").locator("body").click()
    page.locator("a.cke_button__image").click()
    dialog = page.locator(".cke_dialog").filter(visible=True)
    dialog.locator(".cke_dialog_tab", has_text="Upload").click()
    upload_frame = dialog.frame_locator("iframe.cke_dialog_ui_input_file")
    upload_frame.locator("input[type=file]").set_input_files(picture)
    dialog.get_by_role("button", name="Send it to the Server").click()
    info = dialog.get_by_role("tabpanel", name="Image Info")
    expect(info.get_by_role("textbox", name="URL", exact=True)).to_have_value(
        re.compile(r"^/media/uploads/")
    )
    alt = info.get_by_role("textbox", name="Alternative Text")
    expect(alt).to_have_attribute("aria-required", "true")
    expect(info.get_by_role("textbox", name="Width")).to_be_hidden()
    expect(info.get_by_role("textbox", name="Height")).to_be_hidden()
    shots = Path("/work/notes/shots/editing")
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=shots / "image-dialog.png")
    alerts: list[str] = []

    def dismiss(alert):
        alerts.append(alert.message)
        alert.dismiss()

    page.on("dialog", dismiss)
    dialog.get_by_role("button", name="OK").click()
    expect(dialog).to_be_visible()
    assert alerts and "Alternative text is required" in alerts[0]
    frame = page.frame_locator("iframe.cke_wysiwyg_frame")
    expect(frame.locator("img")).to_have_count(0)
    alt.fill("A jar of moisturiser")
    dialog.get_by_role("button", name="OK").click()
    expect(dialog).to_be_hidden()
    image = frame.locator("img")
    expect(image).to_have_attribute("alt", "A jar of moisturiser")
    assert image.get_attribute("style") in (None, "")
    assert image.get_attribute("width") is None
