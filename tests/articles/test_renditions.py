"""Responsive images: renditions made once in a task, and the <picture> markup.

Covers, author photos and body images get resized copies (never wider than the
original) in WebP, a JPEG or PNG fallback, and AVIF where Pillow can write it; pages
look them up in one query and fall back to a plain <img> until they exist.
"""

import io
import re

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from PIL import Image

from articles import services
from articles.models import Article, Author, ImageRendition
from articles.publishing import renditions
from articles.publishing.body import render_body
from core.editor.services import store_editor_image
from tests.factories import (
    image_upload,
    make_article,
    make_author,
    make_staff,
    make_topic,
    make_user,
)

pytestmark = pytest.mark.django_db

FORMATS = (["AVIF"] if renditions.AVIF_SUPPORTED else []) + ["WEBP"]


def store(name: str, data: bytes) -> str:
    return default_storage.save(name, ContentFile(data))


def png_bytes(size, *, transparent: bool = False) -> bytes:
    mode, color = ("RGBA", (10, 120, 200, 100)) if transparent else ("RGB", (9, 9, 9))
    output = io.BytesIO()
    Image.new(mode, size, color).save(output, format="PNG")
    return output.getvalue()


def jpeg_bytes(size, *, orientation: int | None = None) -> bytes:
    image = Image.new("RGB", size, (200, 120, 90))
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"  # Make
    if orientation:
        exif[0x0112] = orientation
    output = io.BytesIO()
    image.save(output, format="JPEG", exif=exif, quality=90)
    return output.getvalue()


def rows(source: str) -> dict[tuple[int, str], ImageRendition]:
    found = ImageRendition.objects.filter(source=source)
    return {(r.width, r.format): r for r in found}


def open_rendition(rendition: ImageRendition) -> Image.Image:
    with default_storage.open(rendition.file) as stored:
        image = Image.open(io.BytesIO(stored.read()))
        image.load()
    return image


# Making renditions.


def test_target_widths_never_exceed_the_original():
    assert renditions.target_widths(3000) == [480, 800, 1200, 1600]
    assert renditions.target_widths(1600) == [480, 800, 1200, 1600]
    assert renditions.target_widths(1000) == [480, 800, 1000]
    assert renditions.target_widths(300) == [300]


def test_png_gets_widths_up_to_its_own_in_webp_avif_and_jpeg():
    source = store("covers/2026/01/flat.png", png_bytes((1000, 500)))
    made = renditions.make_renditions(source)
    found = rows(source)
    widths = [480, 800, 1000]
    expected = {(w, f) for w in widths for f in [*FORMATS, "JPEG"]}
    assert set(found) == expected
    assert made == len(expected)
    for (width, image_format), rendition in found.items():
        assert rendition.height == width // 2
        assert rendition.file.startswith("renditions/covers/2026/01/flat-")
        assert rendition.file.endswith(
            f"-{width}w.{renditions.EXTENSIONS[image_format]}"
        )
        image = open_rendition(rendition)
        assert image.format == image_format
        assert image.size == (width, width // 2)


def test_transparent_png_falls_back_to_png_not_jpeg():
    source = store("covers/see-through.png", png_bytes((600, 300), transparent=True))
    renditions.make_renditions(source)
    formats = {f for _, f in rows(source)}
    assert formats == {*FORMATS, "PNG"}
    png = open_rendition(rows(source)[(480, "PNG")])
    assert png.mode == "RGBA"


def test_large_jpeg_gets_four_widths_never_larger():
    source = store("covers/big.jpg", jpeg_bytes((2000, 1500)))
    renditions.make_renditions(source)
    found = rows(source)
    assert {w for w, _ in found} == {480, 800, 1200, 1600}
    assert {f for _, f in found} == {*FORMATS, "JPEG"}
    largest = open_rendition(found[(1600, "JPEG")])
    assert largest.size == (1600, 1200)


def test_exif_orientation_is_honoured_and_metadata_stripped():
    # Stored 800 x 400, orientation 6: shown turned a quarter, 400 x 800.
    source = store("covers/turned.jpg", jpeg_bytes((800, 400), orientation=6))
    renditions.make_renditions(source)
    found = rows(source)
    assert {w for w, _ in found} == {400}
    for rendition in found.values():
        assert (rendition.width, rendition.height) == (400, 800)
        image = open_rendition(rendition)
        assert image.size == (400, 800)
        assert not image.getexif()
        assert "exif" not in image.info and "xmp" not in image.info
        with default_storage.open(rendition.file) as stored:
            assert b"SecretCam" not in stored.read()


def test_second_run_makes_nothing_and_a_killed_run_is_completed():
    source = store("covers/again.png", png_bytes((900, 600)))
    first = renditions.make_renditions(source)
    assert first > 0
    assert renditions.make_renditions(source) == 0
    assert ImageRendition.objects.filter(source=source).count() == first
    # A run killed part way: some rows missing (their files may be left behind).
    ImageRendition.objects.filter(source=source, format="WEBP").delete()
    assert renditions.make_renditions(source) == 3  # 480, 800 and 900 wide
    assert ImageRendition.objects.filter(source=source).count() == first
    for rendition in ImageRendition.objects.filter(source=source):
        assert default_storage.exists(rendition.file)
        assert rendition.file == renditions.rendition_name(
            source, rendition.width, rendition.format
        )


def test_missing_source_and_animated_gif_make_nothing():
    assert renditions.make_renditions("covers/gone.png") == 0
    frames = [
        Image.new("RGB", (40, 30), c).convert("P") for c in [(1, 2, 3), (9, 8, 7)]
    ]
    output = io.BytesIO()
    frames[0].save(output, format="GIF", save_all=True, append_images=frames[1:])
    assert renditions.make_renditions(store("covers/anim.gif", output.getvalue())) == 0
    assert not ImageRendition.objects.exists()


# Made once, in a task, after the commit.


def test_saving_an_article_with_a_cover_makes_its_renditions_after_commit(
    django_capture_on_commit_callbacks,
):
    article = make_article()
    article.cover_image = image_upload("cover.png", size=(700, 350))
    article.cover_image_alt = "A jar"
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.save_article(article=article)
    assert len(callbacks) == 1
    assert not ImageRendition.objects.exists()  # Nothing made during the save.
    for callback in callbacks:
        callback()
    assert {w for w, _ in rows(article.cover_image.name)} == {480, 700}


def test_replacing_a_cover_makes_new_renditions_and_deletes_the_old(
    django_capture_on_commit_callbacks,
):
    article = make_article()
    article.cover_image = image_upload("first.png", size=(600, 300))
    article.cover_image_alt = "A jar"
    with django_capture_on_commit_callbacks(execute=True):
        services.save_article(article=article)
    old = article.cover_image.name
    old_files = [r.file for r in ImageRendition.objects.filter(source=old)]
    assert old_files and all(default_storage.exists(f) for f in old_files)

    article = Article.objects.get(pk=article.pk)
    article.cover_image = image_upload("second.png", size=(500, 250))
    with django_capture_on_commit_callbacks(execute=True):
        services.save_article(article=article)
    new = article.cover_image.name
    assert new != old
    assert rows(new)
    assert not ImageRendition.objects.filter(source=old).exists()
    assert not any(default_storage.exists(f) for f in old_files)


def test_old_renditions_are_kept_while_something_else_uses_the_image(
    django_capture_on_commit_callbacks,
):
    shared = store("covers/shared.png", png_bytes((500, 250)))
    renditions.make_renditions(shared)
    make_article(cover_image=shared, cover_image_alt="x")
    article = make_article(cover_image=shared, cover_image_alt="x")
    article.cover_image = ""
    article.cover_image_alt = ""
    with django_capture_on_commit_callbacks(execute=True):
        services.save_article(article=article)
    assert rows(shared)


def test_deleting_an_article_deletes_its_image_renditions_after_commit(
    django_capture_on_commit_callbacks,
):
    body_image = store("uploads/1/body.png", png_bytes((500, 250)))
    renditions.make_renditions(body_image)
    article = make_article(body=f'<p><img src="/media/{body_image}" alt="x"></p>')
    article.cover_image = image_upload("cover.png", size=(600, 300))
    article.cover_image_alt = "A jar"
    with django_capture_on_commit_callbacks(execute=True):
        services.save_article(article=article)
    cover = article.cover_image.name
    files = [
        r.file for r in ImageRendition.objects.filter(source__in=[cover, body_image])
    ]
    assert rows(cover) and rows(body_image)

    with django_capture_on_commit_callbacks(execute=True):
        Article.objects.filter(pk=article.pk).delete()

    assert not ImageRendition.objects.exists()
    assert files and not any(default_storage.exists(f) for f in files)


def test_deleting_an_article_keeps_renditions_another_article_uses(
    django_capture_on_commit_callbacks,
):
    shared = store("covers/shared.png", png_bytes((500, 250)))
    renditions.make_renditions(shared)
    make_article(cover_image=shared, cover_image_alt="x")
    doomed = make_article(cover_image=shared, cover_image_alt="x")
    with django_capture_on_commit_callbacks(execute=True):
        doomed.delete()
    assert rows(shared)


def test_editor_upload_and_author_photo_get_renditions(
    django_capture_on_commit_callbacks,
):
    user = make_user()
    upload = SimpleUploadedFile("pic.png", png_bytes((640, 480)), "image/png")
    with django_capture_on_commit_callbacks(execute=True):
        url = store_editor_image(upload=upload, user=user)
    source = renditions.url_to_source(url)
    assert {w for w, _ in rows(source)} == {480, 640}

    author = make_author()
    author.photo = SimpleUploadedFile("me.jpg", jpeg_bytes((300, 400)), "image/jpeg")
    with django_capture_on_commit_callbacks(execute=True):
        services.save_author(author=author, user=make_staff())
    assert {w for w, _ in rows(author.photo.name)} == {300}


def test_author_admin_save_enqueues_renditions(
    staff_client, django_capture_on_commit_callbacks
):
    author = make_author(name="Dr Ada", slug="ada")
    data = {"name": "Dr Ada", "slug": "ada", "kind": "person", "credentials": ""}
    data["bio"] = ""
    data["photo"] = SimpleUploadedFile("ada.png", png_bytes((200, 200)), "image/png")
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(
            reverse("admin:articles_author_change", args=[author.pk]), data
        )
    assert response.status_code == 302
    author.refresh_from_db()
    assert rows(author.photo.name)


def test_management_command_backfills_and_dry_run_makes_nothing():
    cover = store("covers/old.png", png_bytes((500, 250)))
    inline = store("uploads/1/old.png", png_bytes((300, 300)))
    make_article(
        cover_image=cover,
        cover_image_alt="x",
        body=f'<p><img src="{default_storage.url(inline)}" alt="y"></p>',
    )
    out = io.StringIO()
    call_command("make_renditions", "--dry-run", stdout=out)
    assert "2 without renditions" in out.getvalue()
    assert not ImageRendition.objects.exists()
    call_command("make_renditions", stdout=io.StringIO())
    assert rows(cover) and rows(inline)
    out = io.StringIO()
    call_command("make_renditions", stdout=out)
    assert "0 rendition(s) made" in out.getvalue()


# Markup.


def covered_article(size=(1000, 500), **fields):
    source = store("covers/2026/02/cover.png", png_bytes(size))
    renditions.make_renditions(source)
    return make_article(cover_image=source, cover_image_alt="Cream & jar", **fields)


def test_cover_is_a_picture_with_sources_and_no_lazy_loading(client):
    article = covered_article()
    text = client.get(article.get_absolute_url()).text
    cover = re.search(r'<figure class="article__cover.*?</figure>', text, re.S)[0]
    assert cover.count("<picture>") == 1
    if renditions.AVIF_SUPPORTED:
        assert '<source type="image/avif" srcset="' in cover
    assert '<source type="image/webp" srcset="' in cover
    assert "-480w.webp 480w, " in cover and "-1000w.webp 1000w" in cover
    assert 'sizes="(min-width: 60rem)' in cover
    img = re.search(r"<img [^>]*>", cover)[0]
    assert 'width="1000" height="500"' in img
    assert 'alt="Cream &amp; jar"' in img
    assert "-480w.jpg 480w" in img and 'src="/media/covers/2026/02/cover' in img
    assert 'fetchpriority="high"' in img and "loading=" not in img
    assert 'decoding="async"' in img


def test_cards_are_lazy_pictures(client):
    covered_article(featured=True)
    text = client.get(reverse("articles:home")).text
    img = re.search(r'<picture>.*?(<img class="card__image"[^>]*>)', text, re.S)[1]
    assert 'loading="lazy"' in img and "fetchpriority" not in img
    assert 'sizes="auto, ' in img and 'width="1000" height="500"' in img


def test_without_renditions_a_plain_img_is_shown(client):
    source = store("covers/fresh.png", png_bytes((800, 400)))
    article = make_article(
        cover_image=source,
        cover_image_alt="Fresh",
        body=f'<p><img src="{default_storage.url("uploads/1/x.png")}" alt="b"></p>',
    )
    text = client.get(article.get_absolute_url()).text
    assert "<picture>" not in text and "<source" not in text
    assert (
        f'<img src="/media/{source}" alt="Fresh" width="800" height="400" '
        'fetchpriority="high" decoding="async">'
    ) in text
    assert '<img src="/media/uploads/1/x.png" alt="b">' in text
    home = client.get(reverse("articles:home")).text
    assert f'<img class="card__image" src="/media/{source}" alt="Fresh"' in home


def test_body_images_become_lazy_pictures_sized_from_renditions():
    inline = store("uploads/3/2026/01/01/in-body.png", png_bytes((900, 300)))
    small = store("uploads/3/2026/01/01/small.png", png_bytes((320, 200)))
    renditions.make_renditions(small)
    renditions.make_renditions(inline)
    url = default_storage.url(inline)
    html = str(
        render_body(
            f'<h2>Step</h2><figure><img src="{url}" alt="A &quot;dab&quot;">'
            "<figcaption>Apply</figcaption></figure>"
            '<p><img src="/media/uploads/3/none.png" alt="none"></p>'
            f'<p><img src="{default_storage.url(small)}" alt="small"></p>'
        )
    )
    assert html.count("<picture>") == 2
    picture = re.search(r"<picture>.*?</picture>", html, re.S)[0]
    assert '<source type="image/webp"' in picture
    assert "in-body-480w.webp 480w, " in picture and "in-body-900w.webp 900w" in picture
    img = re.search(r"<img [^>]*>", picture)[0]
    assert 'width="900" height="300"' in img
    assert 'alt="A &quot;dab&quot;"' in img
    assert 'loading="lazy"' in img and 'decoding="async"' in img
    assert 'sizes="(min-width: 44.5rem) 42rem' in img
    assert "<figcaption>Apply</figcaption></figure>" in html
    assert '<img src="/media/uploads/3/none.png" alt="none">' in html
    assert '<h2 id="step">' in html
    # Shown no wider than it is: sizes says so, so browsers pick it at 1x.
    assert 'sizes="(min-width: 360px) 320px, calc(100vw - 2.5rem)"' in html


def add_covered_articles(count: int, topic) -> None:
    for _ in range(count):
        source = store("covers/c.png", png_bytes((500, 250)))
        renditions.make_renditions(source)
        make_article(cover_image=source, cover_image_alt="x", topic=topic)


def add_body_images(article: Article, count: int) -> None:
    for _ in range(count):
        inline = store("uploads/1/b.png", png_bytes((500, 250)))
        renditions.make_renditions(inline)
        url = default_storage.url(inline)
        article.body += f'<p><img src="{url}" alt="b"></p>'
    article.save()


def page_queries(client, url: str) -> tuple[int, int, int]:
    """(queries, of which rendition look-ups, <picture> elements) for a page."""
    with CaptureQueriesContext(connection) as captured:
        text = client.get(url).text
    lookups = sum("imagerendition" in q["sql"] for q in captured.captured_queries)
    return len(captured), lookups, text.count("<picture>")


def test_page_queries_stay_constant_with_many_images(client):
    topic = make_topic()
    article = covered_article(topic=topic)
    add_covered_articles(2, topic)
    add_body_images(article, 2)
    urls = [
        article.get_absolute_url(),
        reverse("articles:home"),
        reverse("articles:list"),
        topic.get_absolute_url(),
    ]
    before = [page_queries(client, url) for url in urls]
    add_covered_articles(6, topic)
    add_body_images(article, 6)
    after = [page_queries(client, url) for url in urls]
    for (queries, lookups, pictures), (queries2, lookups2, pictures2) in zip(
        before, after, strict=True
    ):
        assert pictures2 > pictures
        assert queries2 == queries
        assert lookups2 == lookups
    detail, *listings = after
    # The cover and every body image in one query; related articles' cards
    # (loaded further down the page) in one more.
    assert detail[1] == 2
    assert detail[2] >= 1 + 8 + 1
    assert all(lookups == 1 for _, lookups, _ in listings)


def test_the_picture_tag_looks_up_once_per_page(django_assert_num_queries):
    from django.template import Context, Template

    article = covered_article()
    article = Article.objects.select_related("author").get(pk=article.pk)
    template = Template(
        "{% load pictures %}{% for a in articles %}"
        '{% picture a.cover_image alt=a.cover_image_alt sizes="card" %}'
        "{% endfor %}"
    )
    with django_assert_num_queries(1):
        html = template.render(Context({"articles": [article, article, article]}))
    assert html.count("<picture>") == 3


def test_renditions_are_served_with_their_type(client):
    source = store("covers/served.png", png_bytes((500, 250)))
    renditions.make_renditions(source)
    for rendition in ImageRendition.objects.filter(source=source):
        response = client.get(default_storage.url(rendition.file))
        assert response.status_code == 200
        expected = {"AVIF": "image/avif", "WEBP": "image/webp", "JPEG": "image/jpeg"}
        assert response["Content-Type"] == expected[rendition.format]


def test_an_author_photo_renders_as_a_picture():
    from django.template import Context, Template

    author = Author.objects.create(name="Ada", slug="ada-photo")
    author.photo = store("authors/ada.jpg", jpeg_bytes((600, 800)))
    author.save()
    renditions.make_renditions(author.photo.name)
    html = Template(
        "{% load pictures %}{% picture author.photo alt=author.name "
        'width=author.photo_width height=author.photo_height sizes="author" %}'
    ).render(Context({"author": author}))
    assert "<picture>" in html and 'width="600" height="800"' in html
    assert 'sizes="10rem"' in html and 'loading="lazy"' in html
