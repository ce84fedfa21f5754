"""Uploaded media in S3-compatible object storage (MEDIA_STORAGE=s3).

Against a real S3 API on loopback (moto's server, in a thread of this process):
uploads and renditions land in the bucket through Django's storage API, pages link
to the bucket, the bucket serves the bytes, deletions reach it, and nothing is
written to local disk. Local disk, the default, is tested everywhere else.
"""

import itertools
import json
import logging
import re
import urllib.request
from types import SimpleNamespace

import boto3
import pytest
from ckeditor_uploader import utils as ckeditor_utils
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils.functional import empty
from moto.server import ThreadedMotoServer
from storages.backends.s3 import S3Storage

from articles import services
from articles.models import Article, ImageRendition
from articles.publishing.renditions import make_renditions
from core.media import media_name, media_origin, stored_url
from core.s3 import MediaS3Storage
from core.sanitize import sanitize_html
from tests.factories import admin_article_form, image_bytes, image_upload, make_article
from tests.skincare.test_settings import run_manage

pytestmark = pytest.mark.django_db

REGION = "us-east-1"
# moto accepts any key; real ones come from the environment (settings.py).
KEYS = {"access_key": "testing", "secret_key": "testing"}
_buckets = itertools.count(1)
# Anything in the bucket is public to read, nothing else (docs/operations.md).
PUBLIC_READ = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::{bucket}/*",
        }
    ],
}


@pytest.fixture(scope="session")
def s3_endpoint():
    """moto's S3 server on a free loopback port, once for the whole run."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def _reset_editor_storage() -> None:
    # django-ckeditor's file browser keeps its own lazy default storage, which
    # Django does not reset when a test changes STORAGES.
    ckeditor_utils.storage._wrapped = empty


@pytest.fixture
def s3_media(s3_endpoint, settings):
    """A new public-read bucket, and the site storing its media there with the
    options MEDIA_STORAGE=s3 gives (skincare/settings.py)."""
    bucket = f"media-{next(_buckets)}"
    client = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name=REGION,
        aws_access_key_id=KEYS["access_key"],
        aws_secret_access_key=KEYS["secret_key"],
    )
    client.create_bucket(Bucket=bucket)
    policy = json.dumps(PUBLIC_READ).replace("{bucket}", bucket)
    client.put_bucket_policy(Bucket=bucket, Policy=policy)
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "core.s3.MediaS3Storage",
            "OPTIONS": {
                "bucket_name": bucket,
                "endpoint_url": s3_endpoint,
                "region_name": REGION,
                "querystring_auth": False,
                "file_overwrite": False,
                **KEYS,
            },
        },
    }
    _reset_editor_storage()
    yield SimpleNamespace(
        client=client, bucket=bucket, base_url=f"{s3_endpoint}/{bucket}/"
    )
    _reset_editor_storage()


def keys(s3_media, prefix: str = "") -> set[str]:
    listed = s3_media.client.list_objects(Bucket=s3_media.bucket, Prefix=prefix)
    return {item["Key"] for item in listed.get("Contents", [])}


def bucket_bytes(s3_media, key: str) -> bytes:
    return s3_media.client.get_object(Bucket=s3_media.bucket, Key=key)["Body"].read()


def fetch(url: str) -> tuple[int, str, bytes]:
    """GET from the bucket as a browser would: no credentials, no proxy."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=30) as response:
        return response.status, response.headers["Content-Type"], response.read()


def editor_upload(client, upload) -> str:
    client.cookies["ckCsrfToken"] = "tok"
    response = client.post(
        reverse("ckeditor_upload"), {"ckCsrfToken": "tok", "upload": upload}
    )
    assert response.status_code == 200, response.content
    return response.json()["url"]


def thumb(name: str) -> str:
    stem, extension = name.rsplit(".", 1)
    return f"{stem}_thumb.{extension}"


def media_urls(html: str) -> list[str]:
    """Every image address on a page (src and each srcset candidate) but static."""
    found = []
    for attribute, value in re.findall(r'\s(src|srcset)="([^"]*)"', html):
        candidates = value.split(", ") if attribute == "srcset" else [value]
        found.extend(c.split(" ")[0] for c in candidates)
    return [url for url in found if not url.startswith(settings.STATIC_URL)]


def img_src(html: str) -> list[str]:
    return re.findall(r'<img [^>]*src="([^"]*)"', html)


def published_with_images(staff_client, s3_media, callbacks):
    """An article added in the admin with a cover and an editor image in its body
    given at the bucket's address (as the editor's file browser gives it), its
    renditions made, then published."""
    with callbacks(execute=True):
        body_url = editor_upload(
            staff_client, image_upload("in-body.png", size=(900, 450))
        )
    body_image = media_name(body_url)
    form = admin_article_form(
        cover_image_alt="A jar",
        body=f'<p><img src="{s3_media.base_url}{body_image}" alt="Dab"></p>',
    )
    form["cover_image"] = image_upload("cover.png", size=(1000, 500))
    with callbacks(execute=True):
        response = staff_client.post(reverse("admin:articles_article_add"), form)
    assert response.status_code == 302
    article = Article.objects.get()
    with callbacks(execute=True):
        services.publish_article(article=article)
    return article, body_image


# Writing: uploads and renditions land in the bucket.


def test_editor_upload_lands_in_the_bucket_with_thumbnail_and_renditions(
    staff_client, staff, s3_media, media_root, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        url = editor_upload(staff_client, image_upload("pic.png", size=(640, 480)))
    assert url.startswith(f"{settings.MEDIA_URL}uploads/{staff.pk}/")
    name = media_name(url)
    renditions = {r.file for r in ImageRendition.objects.filter(source=name)}
    assert {r.width for r in ImageRendition.objects.filter(source=name)} == {480, 640}
    assert keys(s3_media) == {name, thumb(name), *renditions}
    head = s3_media.client.head_object(Bucket=s3_media.bucket, Key=name)
    assert head["ContentType"] == "image/png"
    assert head["CacheControl"] == "public, max-age=31536000, immutable"
    webp = next(f for f in renditions if f.endswith(".webp"))
    assert (
        s3_media.client.head_object(Bucket=s3_media.bucket, Key=webp)["ContentType"]
        == "image/webp"
    )
    assert not media_root.exists()


def test_cover_uploaded_in_the_admin_and_its_renditions_are_in_the_bucket(
    staff_client, s3_media, media_root, django_capture_on_commit_callbacks
):
    article, body_image = published_with_images(
        staff_client, s3_media, django_capture_on_commit_callbacks
    )
    cover = article.cover_image.name
    assert cover.startswith("covers/")
    assert (article.cover_image_width, article.cover_image_height) == (1000, 500)
    assert bucket_bytes(s3_media, cover)[:8] == b"\x89PNG\r\n\x1a\n"
    for source in (cover, body_image):
        made = {r.file for r in ImageRendition.objects.filter(source=source)}
        assert made and made <= keys(s3_media, "renditions/")
    assert not media_root.exists()


def test_body_keeps_the_sites_own_address_of_a_bucket_image(
    staff_client, s3_media, django_capture_on_commit_callbacks
):
    article, body_image = published_with_images(
        staff_client, s3_media, django_capture_on_commit_callbacks
    )
    assert f'<img src="/media/{body_image}" alt="Dab">' in article.body
    assert s3_media.base_url not in article.body


# Reading: pages link to the bucket, which serves the bytes.


def test_article_page_images_point_to_the_bucket_which_serves_them(
    client, staff_client, s3_media, media_root, django_capture_on_commit_callbacks
):
    article, body_image = published_with_images(
        staff_client, s3_media, django_capture_on_commit_callbacks
    )
    response = client.get(article.get_absolute_url())
    assert response.status_code == 200
    html = response.text
    urls = media_urls(html)
    cover = article.cover_image.name
    for source in (cover, body_image):
        assert f"{s3_media.base_url}{source}" in img_src(html)
        for rendition in ImageRendition.objects.filter(source=source):
            assert f"{s3_media.base_url}{rendition.file}" in urls
    assert all(url.startswith(s3_media.base_url) for url in urls), urls
    for url in set(urls):
        status, content_type, body = fetch(url)
        key = url.removeprefix(s3_media.base_url)
        assert (status, body) == (200, bucket_bytes(s3_media, key))
        assert content_type.startswith("image/")
    assert not media_root.exists()


def test_bucket_origin_is_allowed_for_images_on_public_and_admin_pages(
    client, staff_client, s3_media
):
    origin = s3_media.base_url.removesuffix(f"/{s3_media.bucket}/")
    assert media_origin() == origin
    for response in (client.get("/"), staff_client.get(reverse("admin:index"))):
        policy = response["Content-Security-Policy"]
        img_src_directive = re.search(r"img-src ([^;]*)", policy)[1].split()
        assert "'self'" in img_src_directive and origin in img_src_directive
        assert origin not in re.search(r"script-src ([^;]*)", policy)[1]


def test_body_image_without_renditions_is_fetched_from_the_bucket(client, s3_media):
    name = default_storage.save("uploads/1/plain.png", ContentFile(image_bytes()))
    article = make_article(body=f'<p><img src="/media/{name}" alt="Plain"></p>')
    html = client.get(article.get_absolute_url()).text
    assert f'<img src="{s3_media.base_url}{name}" alt="Plain">' in html
    assert fetch(f"{s3_media.base_url}{name}")[2] == image_bytes()


def test_media_address_redirects_to_the_bucket(client, s3_media, media_root):
    name = default_storage.save("uploads/1/linked.png", ContentFile(image_bytes()))
    response = client.get(f"{settings.MEDIA_URL}{name}")
    assert response.status_code == 302
    assert response["Location"] == f"{s3_media.base_url}{name}"
    assert client.get(f"{settings.MEDIA_URL}uploads/1/page.html").status_code == 404
    assert client.get(f"{settings.MEDIA_URL}uploads/..%2f1/x.png").status_code == 404
    assert not media_root.exists()


def test_editor_file_browser_lists_uploads_from_the_bucket(
    staff_client, s3_media, media_root
):
    name = media_name(editor_upload(staff_client, image_upload("browse.png")))
    page = staff_client.get(reverse("ckeditor_browse")).text
    assert f"{s3_media.base_url}{name}" in page
    assert f"{s3_media.base_url}{thumb(name)}" in page
    assert not media_root.exists()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_browser_shows_bucket_images_within_the_content_security_policy(
    page, live_server, s3_media
):
    cover = default_storage.save(
        "covers/jar.png", ContentFile(image_bytes(size=(900, 450)))
    )
    inline = default_storage.save(
        "uploads/1/dab.png", ContentFile(image_bytes(size=(600, 300)))
    )
    for source in (cover, inline):
        make_renditions(source)
    article = make_article(
        cover_image=cover,
        cover_image_alt="A jar",
        body=f'<p><img src="/media/{inline}" alt="Dab"></p>',
    )
    violations = []
    page.on(
        "console",
        lambda msg: "Content Security Policy" in msg.text and violations.append(msg),
    )
    fetched = []
    page.on("requestfinished", lambda request: fetched.append(request.url))
    page.goto(f"{live_server.url}{article.get_absolute_url()}")
    images = page.locator("main img")
    assert images.count() == 2
    for index in range(2):
        image = images.nth(index)
        image.scroll_into_view_if_needed()
        page.wait_for_function("img => img.complete", arg=image.element_handle())
        assert image.evaluate("img => img.naturalWidth") > 0
        assert image.evaluate("img => img.currentSrc").startswith(s3_media.base_url)
    assert not violations
    assert any(url.startswith(s3_media.base_url) for url in fetched)


# Deleting goes through the storage too.


def test_deleting_an_article_deletes_its_renditions_from_the_bucket(
    staff_client, s3_media, media_root, django_capture_on_commit_callbacks
):
    article, body_image = published_with_images(
        staff_client, s3_media, django_capture_on_commit_callbacks
    )
    assert keys(s3_media, "renditions/")
    with django_capture_on_commit_callbacks(execute=True):
        Article.objects.filter(pk=article.pk).delete()
    assert not ImageRendition.objects.exists()
    assert keys(s3_media, "renditions/") == set()
    # The originals stay: an image may be in a revision or a newsletter.
    assert {article.cover_image.name, body_image} <= keys(s3_media)
    assert not media_root.exists()


def test_replacing_a_cover_deletes_the_old_renditions_from_the_bucket(
    s3_media, media_root, django_capture_on_commit_callbacks
):
    article = make_article()
    article.cover_image = image_upload("first.png", size=(600, 300))
    article.cover_image_alt = "A jar"
    with django_capture_on_commit_callbacks(execute=True):
        services.save_article(article=article)
    old = {r.file for r in ImageRendition.objects.all()}
    assert old and old <= keys(s3_media, "renditions/")
    article = Article.objects.get(pk=article.pk)
    article.cover_image = image_upload("second.png", size=(500, 250))
    with django_capture_on_commit_callbacks(execute=True):
        services.save_article(article=article)
    left = keys(s3_media, "renditions/")
    assert left and not old & left
    assert left == {r.file for r in ImageRendition.objects.all()}
    assert not media_root.exists()


# The sanitiser and addresses.


def test_only_this_buckets_addresses_count_as_our_media(s3_media):
    other_bucket = s3_media.base_url.replace(s3_media.bucket, "elsewhere")
    html = sanitize_html(
        html=(
            f'<img src="{s3_media.base_url}uploads/1/a.png" alt="ours">'
            f'<img src="{other_bucket}uploads/1/b.png" alt="other bucket">'
            f'<img src="{s3_media.base_url}uploads/%2e%2e/c.png" alt="climbing">'
            '<img src="https://example.com/d.png" alt="elsewhere">'
        )
    )
    assert html == (
        '<img src="/media/uploads/1/a.png" alt="ours">'
        '<img alt="other bucket"><img alt="climbing"><img alt="elsewhere">'
    )


@pytest.mark.parametrize(
    "options",
    [
        {"region_name": "eu-west-1", "location": "site-media"},
        {"endpoint_url": "http://127.0.0.1:9000", "region_name": "us-east-1"},
        {"endpoint_url": "https://s3.example.com", "addressing_style": "virtual"},
        {"custom_domain": "media.example.com"},
    ],
)
def test_addresses_are_the_ones_django_storages_makes(options):
    storage = MediaS3Storage(
        bucket_name="media-bucket", querystring_auth=False, **options, **KEYS
    )
    for name in [
        "covers/2026/02/cover-3f2a9c1b7d4e.png",
        "renditions/uploads/3/2026/01/01/in-body-480w.webp",
        "uploads/1/with space & sign.png",
        "uploads/1/./odd/../name.png",
    ]:
        assert storage.url(name) == S3Storage.url(storage, name)
        # Again, now that the storage keeps the prefix.
        assert storage.url(name) == S3Storage.url(storage, name)


def test_local_disk_is_the_default_and_adds_no_image_origin(client, media_root):
    name = default_storage.save("uploads/1/local.png", ContentFile(image_bytes()))
    assert stored_url(name) == f"{settings.MEDIA_URL}{name}"
    assert media_origin() is None
    policy = client.get("/")["Content-Security-Policy"]
    # Directives come in no fixed order (django-csp builds them from a set).
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["img-src"] == "'self'"
    assert (media_root / name).read_bytes() == image_bytes()


# Settings from the environment.

SHOW_MEDIA_SETTINGS = (
    "import os; from django.conf import settings; "
    "from django.core.files.storage import default_storage as s; "
    "print(settings.STORAGES['default']); print(s.url('covers/a.png')); "
    "print(getattr(s, 'access_key', None) == os.environ.get('AWS_ACCESS_KEY_ID'))"
)


def test_media_storage_s3_is_configured_from_the_environment_without_secrets():
    result = run_manage(
        "shell",
        "-c",
        SHOW_MEDIA_SETTINGS,
        DJANGO_SECRET_KEY="x",
        MEDIA_STORAGE="s3",
        AWS_STORAGE_BUCKET_NAME="skincare-media",
        AWS_S3_ENDPOINT_URL="https://s3.example.com",
        AWS_S3_REGION_NAME="eu-west-1",
        AWS_S3_CUSTOM_DOMAIN="media.example.com",
        AWS_ACCESS_KEY_ID="AKIAEXAMPLEKEY",
        AWS_SECRET_ACCESS_KEY="example-secret-from-the-environment",
    )
    assert result.returncode == 0, result.stderr
    storage, url, keys_from_env = result.stdout.strip().splitlines()
    assert "'BACKEND': 'core.s3.MediaS3Storage'" in storage
    for option in (
        "'bucket_name': 'skincare-media'",
        "'endpoint_url': 'https://s3.example.com'",
        "'region_name': 'eu-west-1'",
        "'custom_domain': 'media.example.com'",
        "'querystring_auth': False",
        "'file_overwrite': False",
    ):
        assert option in storage
    assert "AKIAEXAMPLEKEY" not in storage and "example-secret" not in storage
    assert url == "https://media.example.com/covers/a.png"
    assert keys_from_env == "True"  # django-storages reads them itself.


def test_local_disk_is_the_default_media_storage():
    result = run_manage("shell", "-c", SHOW_MEDIA_SETTINGS, DJANGO_SECRET_KEY="x")
    assert result.returncode == 0, result.stderr
    storage, url, _ = result.stdout.strip().splitlines()
    assert storage == "{'BACKEND': 'django.core.files.storage.FileSystemStorage'}"
    assert url == "/media/covers/a.png"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"MEDIA_STORAGE": "s3"}, "MEDIA_STORAGE=s3 needs AWS_STORAGE_BUCKET_NAME"),
        ({"MEDIA_STORAGE": "ftp"}, "MEDIA_STORAGE must be 'local' or 's3'"),
    ],
)
def test_incomplete_media_storage_settings_refuse_to_start(env, message):
    result = run_manage("check", DJANGO_SECRET_KEY="x", **env)
    assert result.returncode != 0
    assert message in result.stderr
