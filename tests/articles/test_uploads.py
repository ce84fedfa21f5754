"""Editor image uploads, through the real endpoint, and the cover image validator.

Only real JPEG/PNG/GIF/WebP images whose content matches their extension are
stored, re-encoded under a random name in the uploader's folder; anything else is
refused with a message and leaves MEDIA_ROOT empty.
"""

import functools
import io
import json
import os
import re
import struct
import zlib
from pathlib import Path

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from articles.models import Article
from core.images import check_image, validate_image_file
from tests.factories import image_bytes, image_upload, make_user

pytestmark = pytest.mark.django_db

SCRIPT = b"<script>alert(1)</script>"
TOKEN = "tok"
EXIF_MAKE = "EvilCam"
COLORS = [(200, 0, 0), (0, 200, 0), (0, 0, 200)]


# Files.


def gif_bytes(*, comment: bytes = b"") -> bytes:
    image = Image.new("RGB", (40, 30), (200, 120, 90)).convert("P")
    image.info["version"] = b"89a"  # Pillow writes GIF87a otherwise.
    output = io.BytesIO()
    image.save(output, format="GIF", comment=comment)
    return output.getvalue()


def animated_gif_bytes(*, comment: bytes = b"") -> bytes:
    frames = [Image.new("RGB", (40, 30), color).convert("P") for color in COLORS]
    output = io.BytesIO()
    frames[0].save(
        output,
        format="GIF",
        save_all=True,
        append_images=frames[1:],
        duration=100,
        loop=0,
        comment=comment,
    )
    return output.getvalue()


def gif_polyglot() -> bytes:
    """A valid GIF that is also an HTML page running a script."""
    return gif_bytes() + SCRIPT


def noise_png(size: tuple[int, int]) -> bytes:
    """A PNG that does not compress, so its size on disk is about 3 bytes a pixel."""
    image = Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3))
    output = io.BytesIO()
    image.save(output, format="PNG")
    return output.getvalue()


@functools.cache
def png_declaring(width: int, height: int) -> bytes:
    """A real 1-bit PNG of any size, small on disk: every row is zeros.

    Pillow would need a byte per pixel in memory to make one this large, so the
    chunks are written by hand.
    """

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    compressor = zlib.compressobj(9)
    row = b"\x00" * (1 + (width + 7) // 8)  # filter byte + packed bits
    idat = b"".join(compressor.compress(row) for _ in range(height))
    idat += compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", idat)
        + chunk(b"IEND", b"")
    )


def jpeg_with_exif() -> bytes:
    exif = Image.Exif()
    exif[0x010F] = EXIF_MAKE  # Make
    exif[0x0110] = "Model X"  # Model
    exif[0x0131] = "Editor 1.0"  # Software
    output = io.BytesIO()
    Image.new("RGB", (64, 48), (10, 20, 30)).save(output, format="JPEG", exif=exif)
    return output.getvalue()


def upload_file(name: str, content: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="application/octet-stream")


def stored_files(root: Path) -> list[Path]:
    return sorted(p for p in Path(root).rglob("*") if p.is_file())


def media_path(url: str) -> Path:
    assert url.startswith(settings.MEDIA_URL), url
    return Path(settings.MEDIA_ROOT) / url.removeprefix(settings.MEDIA_URL)


def thumb_path(path: Path) -> Path:
    return path.with_name(f"{path.stem}_thumb{path.suffix}")


# The endpoint.


def post_upload(client, upload=None, *, dialog=False, cookie=TOKEN, token=TOKEN):
    url = reverse("ckeditor_upload") + ("?CKEditorFuncNum=1" if dialog else "")
    if cookie is not None:
        client.cookies["ckCsrfToken"] = cookie
    data = {} if token is None else {"ckCsrfToken": token}
    if upload is not None:
        data["upload"] = upload
    return client.post(url, data)


def dialog_args(response) -> list[str]:
    """The arguments the dialog response passes to CKEditor's callback."""
    match = re.fullmatch(
        r"<!DOCTYPE html><script>window\.parent\.CKEDITOR\.tools\.callFunction"
        r"\(1, (.*)\);</script>",
        response.content.decode(),
    )
    assert match, response.content
    return json.loads(f"[{match.group(1)}]")


def json_error(response) -> str:
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["uploaded"] == 0, body
    return body["error"]["message"]


def json_url(response) -> str:
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["uploaded"] == 1, body
    return body["url"]


REJECTED = {
    "polyglot_gif_named_html": (
        lambda: upload_file("evil.html", gif_polyglot()),
        "'evil.html' is not one",
    ),
    "polyglot_gif_named_gif_html": (
        lambda: upload_file("evil.gif.html", gif_polyglot()),
        "'evil.gif.html' is not one",
    ),
    "svg_with_script": (
        lambda: upload_file(
            "x.svg",
            b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        ),
        "Only images can be uploaded: JPEG, PNG, GIF or WebP files",
    ),
    "text_named_png": (
        lambda: upload_file("notimage.png", b"just some text, not an image\n"),
        "not a readable PNG image",
    ),
    "png_named_jpg": (
        lambda: upload_file("photo.jpg", image_bytes(fmt="PNG")),
        "named .jpg but contains PNG data",
    ),
    "truncated_png": (
        lambda: upload_file("cut.png", noise_png((64, 64))[:6000]),
        "not a readable PNG image",
    ),
    "bomb_20000x20000": (
        lambda: upload_file("bomb.png", png_declaring(20000, 20000)),
        "too many pixels",
    ),
    "just_over_pixel_budget": (
        lambda: upload_file("big.png", png_declaring(8000, 5001)),
        "8000 x 5001 pixels; the limit is 40 megapixels",
    ),
}


def test_crafted_png_is_a_real_png_that_pillow_decodes():
    # The bomb tests rely on png_declaring making valid files.
    with Image.open(io.BytesIO(png_declaring(70, 33))) as image:
        image.load()
        assert (image.format, image.size, image.mode) == ("PNG", (70, 33), "1")


def test_bombs_are_small_on_disk_and_over_the_budget():
    assert len(png_declaring(20000, 20000)) < 200_000
    assert 8000 * 5001 > settings.MAX_IMAGE_PIXELS == 40_000_000


def test_gif_polyglot_is_a_valid_gif89a_with_a_script():
    data = gif_polyglot()
    assert data.startswith(b"GIF89a") and data.endswith(SCRIPT)
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        assert image.format == "GIF"


@pytest.mark.parametrize("case", list(REJECTED), ids=list(REJECTED))
def test_rejected_upload_says_why_and_stores_nothing_json(
    staff_client, media_root, case
):
    make_upload, message = REJECTED[case]
    response = post_upload(staff_client, make_upload())
    assert message in json_error(response)
    assert stored_files(media_root) == []


@pytest.mark.parametrize("case", list(REJECTED), ids=list(REJECTED))
def test_rejected_upload_says_why_and_stores_nothing_dialog(
    staff_client, media_root, case
):
    make_upload, message = REJECTED[case]
    response = post_upload(staff_client, make_upload(), dialog=True)
    assert response.status_code == 200
    url, error = dialog_args(response)
    assert url == ""
    assert message in error
    assert stored_files(media_root) == []


def test_oversize_upload_is_refused_with_sizes_in_the_message(
    staff_client, media_root, settings
):
    settings.MAX_IMAGE_UPLOAD_BYTES = 1024 * 1024
    data = noise_png((800, 700))
    assert len(data) > 1.5 * 1024 * 1024
    message = json_error(post_upload(staff_client, upload_file("big.png", data)))
    # The sizes must show the upload is over the limit, never "1 MB; limit 1 MB".
    assert message == "This image is 1.7 MB; the limit is 1 MB.", message
    assert stored_files(media_root) == []


def test_upload_just_over_the_byte_limit_does_not_read_as_within_it(
    staff_client, media_root, settings
):
    data = image_bytes()
    settings.MAX_IMAGE_UPLOAD_BYTES = 2 * 1024 * 1024
    padded = data + b"\0" * (settings.MAX_IMAGE_UPLOAD_BYTES + 1 - len(data))
    message = json_error(post_upload(staff_client, upload_file("p.png", padded)))
    assert message == "This image is 2.1 MB; the limit is 2 MB.", message
    assert stored_files(media_root) == []


def test_missing_file_field_is_refused(staff_client, media_root):
    assert json_error(post_upload(staff_client)) == "Choose an image file to upload."
    url, error = dialog_args(post_upload(staff_client, dialog=True))
    assert (url, error) == ("", "Choose an image file to upload.")
    assert stored_files(media_root) == []


@pytest.mark.parametrize(
    ("cookie", "token"),
    [(None, TOKEN), (TOKEN, None), (None, None), (TOKEN, "other"), ("", "")],
    ids=["no_cookie", "no_field", "neither", "mismatch", "both_empty"],
)
def test_upload_without_matching_ck_csrf_token_is_refused(
    staff_client, media_root, cookie, token
):
    response = post_upload(staff_client, image_upload(), cookie=cookie, token=token)
    assert "The upload was refused" in json_error(response)
    response = post_upload(
        staff_client, image_upload(), cookie=cookie, token=token, dialog=True
    )
    assert "The upload was refused" in dialog_args(response)[1]
    assert stored_files(media_root) == []


def test_get_is_not_an_upload(staff_client, media_root):
    assert staff_client.get(reverse("ckeditor_upload")).status_code == 405
    assert stored_files(media_root) == []


# Accepted uploads.


@pytest.mark.parametrize(
    ("name", "fmt", "pillow_format"),
    [("photo.png", "PNG", "PNG"), ("photo.jpg", "JPEG", "JPEG")],
)
def test_real_image_is_stored_re_encoded_under_a_random_name_with_a_thumbnail(
    staff_client, staff, media_root, name, fmt, pillow_format
):
    url = json_url(post_upload(staff_client, image_upload(name, fmt=fmt)))
    path = media_path(url)
    assert url.startswith(f"{settings.MEDIA_URL}uploads/{staff.pk}/")
    assert path.name != name
    assert re.fullmatch(rf"photo-[0-9a-f]{{12}}\.{name.rsplit('.')[1]}", path.name)
    assert stored_files(media_root) == sorted([path, thumb_path(path)])
    with Image.open(path) as image:
        assert (image.format, image.size) == (pillow_format, (64, 48))
    with Image.open(thumb_path(path)) as thumb:
        assert thumb.format == pillow_format
        assert max(thumb.size) <= 150


def test_same_file_uploaded_twice_gets_two_names(staff_client):
    first = json_url(post_upload(staff_client, image_upload()))
    second = json_url(post_upload(staff_client, image_upload()))
    assert first != second


def test_dialog_protocol_returns_the_url_to_the_editor(staff_client, staff):
    response = post_upload(staff_client, image_upload(), dialog=True)
    assert response.status_code == 200
    url, error = dialog_args(response)
    assert error == ""
    assert url.startswith(f"{settings.MEDIA_URL}uploads/{staff.pk}/")
    assert f'CKEDITOR.tools.callFunction(1, "{url}", "")' in response.content.decode()
    assert media_path(url).is_file()


def test_file_name_in_dialog_message_cannot_change_how_the_script_parses(
    staff_client, media_root
):
    # Django keeps only the last path component of a name, so a name cannot hold
    # "</script>"; "<!--<script>" still can, and would put the HTML parser in the
    # "double escaped" state where the closing </script> no longer ends the element.
    name = "a<!--<script>x.html"
    response = post_upload(staff_client, upload_file(name, b"x"), dialog=True)
    text = response.content.decode()
    assert text.startswith("<!DOCTYPE html><script>") and text.endswith("</script>")
    inner = text.removeprefix("<!DOCTYPE html><script>").removesuffix("</script>")
    assert "<" not in inner
    assert f"'{name}' is not one" in dialog_args(response)[1]
    assert stored_files(media_root) == []


def test_exif_metadata_is_stripped_from_stored_jpeg(staff_client):
    data = jpeg_with_exif()
    with Image.open(io.BytesIO(data)) as original:
        assert original.getexif()[0x010F] == EXIF_MAKE  # the test file has EXIF
    url = json_url(post_upload(staff_client, upload_file("camera.jpg", data)))
    for path in (media_path(url), thumb_path(media_path(url))):
        with Image.open(path) as stored:
            assert stored.format == "JPEG"
            assert dict(stored.getexif()) == {}
            assert "exif" not in stored.info
        assert EXIF_MAKE.encode() not in path.read_bytes()


def test_gif_polyglot_named_gif_is_stored_without_the_script(staff_client):
    url = json_url(post_upload(staff_client, upload_file("anim.gif", gif_polyglot())))
    for path in (media_path(url), thumb_path(media_path(url))):
        assert b"<script" not in path.read_bytes().lower()
        with Image.open(path) as image:
            assert image.format == "GIF"


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("comment.gif", lambda: gif_bytes(comment=SCRIPT)),
        ("comment.gif", lambda: animated_gif_bytes(comment=SCRIPT)),
        ("comment.jpg", lambda: _jpeg(comment=SCRIPT)),
    ],
    ids=["gif_comment", "animated_gif_comment", "jpeg_comment"],
)
def test_script_in_an_image_comment_is_not_stored(staff_client, name, content):
    data = content()
    with Image.open(io.BytesIO(data)) as original:
        assert original.info["comment"] == SCRIPT  # the script is in the image
    url = json_url(post_upload(staff_client, upload_file(name, data)))
    for path in (media_path(url), thumb_path(media_path(url))):
        assert b"<script" not in path.read_bytes().lower()
        with Image.open(path) as stored:
            assert "comment" not in stored.info


def test_animated_gif_keeps_its_frames(staff_client):
    url = json_url(
        post_upload(staff_client, upload_file("a.gif", animated_gif_bytes()))
    )
    with Image.open(media_path(url)) as stored:
        assert stored.format == "GIF"
        assert stored.n_frames == len(COLORS)


def _jpeg(**options) -> bytes:
    output = io.BytesIO()
    Image.new("RGB", (64, 48), (10, 20, 30)).save(output, format="JPEG", **options)
    return output.getvalue()


def test_anonymous_visitor_cannot_upload(client, media_root):
    response = post_upload(client, upload_file("photo.png", image_bytes()))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))
    assert stored_files(media_root) == []


def test_logged_in_non_staff_user_cannot_upload(client, media_root):
    client.force_login(make_user())
    response = post_upload(client, upload_file("photo.png", image_bytes()))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))
    assert stored_files(media_root) == []


# Serving what was stored.


def test_uploaded_image_is_served_as_an_image_with_nosniff(staff_client, client):
    url = json_url(post_upload(staff_client, image_upload()))
    response = client.get(url)
    assert response.status_code == 200
    body = b"".join(response.streaming_content)
    assert body == media_path(url).read_bytes()
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"]


@pytest.mark.parametrize("name", ["something.html", "uploads/1/x.svg", "x.png.html"])
def test_media_never_serves_non_image_files(client, media_root, name):
    # The file exists, so a 404 comes from the extension rule, not a missing file.
    path = Path(media_root) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"<html><script>alert(1)</script></html>")
    assert client.get(f"{settings.MEDIA_URL}{name}").status_code == 404


# The cover image field uses the same checks.


def test_cover_image_field_is_validated_by_validate_image_file():
    field = Article._meta.get_field("cover_image")
    assert validate_image_file in field.validators


@pytest.mark.parametrize(
    ("name", "content", "code"),
    [
        ("evil.html", gif_polyglot, "invalid_extension"),
        ("evil.gif.html", gif_polyglot, "invalid_extension"),
        (
            "x.svg",
            lambda: b"<svg xmlns='http://www.w3.org/2000/svg'/>",
            "invalid_extension",
        ),
        ("bomb.png", lambda: png_declaring(20000, 20000), "too_many_pixels"),
        ("big.png", lambda: png_declaring(8000, 5001), "too_many_pixels"),
        ("notimage.png", lambda: b"text", "invalid_image"),
        ("cut.png", lambda: noise_png((64, 64))[:6000], "invalid_image"),
        ("photo.jpg", image_bytes, "format_mismatch"),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_cover_image_validator_refuses_with_a_code(name, content, code):
    upload = upload_file(name, content())
    with pytest.raises(ValidationError) as caught:
        validate_image_file(upload)
    assert caught.value.code == code
    with pytest.raises(ValidationError) as caught:
        check_image(upload)
    assert caught.value.code == code


def test_cover_image_validator_accepts_a_png():
    upload = image_upload("cover.png", size=(90, 60))
    assert validate_image_file(upload) is None
    checked = check_image(upload)
    assert (checked.format, checked.width, checked.height) == ("PNG", 90, 60)
    assert upload.tell() == 0  # left ready for storage to read from the start
