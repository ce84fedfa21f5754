import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.urls import reverse
from django.utils import timezone

from articles.editorial import revisions, workflow
from articles.models import Article, EditorialPolicy, Evidence, HomePage, Stage
from core.sanitize import sanitize_html
from tests.factories import (
    admin_article_form,
    image_upload,
    make_article,
    make_author,
    make_draft,
    make_role_user,
    make_scheduled,
    make_topic,
    make_user,
)

pytestmark = pytest.mark.django_db

ADMIN_PAGES = [
    "admin:index",
    "admin:articles_article_changelist",
    "admin:articles_article_add",
    "admin:articles_topic_changelist",
    "admin:articles_author_changelist",
]


@pytest.mark.parametrize("name", ADMIN_PAGES)
def test_admin_pages_load_for_staff(staff_client, name):
    make_article()
    assert staff_client.get(reverse(name)).status_code == 200


@pytest.mark.parametrize("name", ADMIN_PAGES)
def test_admin_pages_redirect_visitors_and_non_staff_to_login(client, name):
    assert client.get(reverse(name)).status_code == 302
    client.force_login(make_user())
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert reverse("admin:login") in response["Location"]


def test_change_page_has_ckeditor_preview_and_view_on_site(staff_client):
    article = make_draft()
    text = staff_client.get(
        reverse("admin:articles_article_change", args=[article.pk])
    ).text
    assert "ckeditor/ckeditor.js" in text
    assert reverse("ckeditor_upload") in text
    assert reverse("admin:articles_article_preview", args=[article.pk]) in text
    assert "admin/js/length-hints.js" in text
    assert 'maxlength="160"' in text and 'maxlength="70"' in text


def test_toolbar_has_no_cloud_plugins():
    config = settings.CKEDITOR_CONFIGS["default"]
    assert "exportpdf" in config["removePlugins"]
    assert settings.CKEDITOR_RESTRICT_BY_USER == "pk"
    assert settings.CKEDITOR_ALLOW_NONIMAGE_FILES is False


def test_adding_an_article_fills_the_slug_and_saves_a_draft(staff_client, staff):
    response = staff_client.post(
        reverse("admin:articles_article_add"), admin_article_form()
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    article = Article.objects.get()
    assert article.slug == "moisturising-101"
    assert article.stage == Stage.DRAFT and not article.is_live
    assert article.created_by == staff
    assert article.latest_revision.data["slug"] == "moisturising-101"


def test_publishing_an_article_added_in_the_admin_fills_its_time(staff_client, staff):
    staff_client.post(reverse("admin:articles_article_add"), admin_article_form())
    article = Article.objects.get()
    assert article.published_at is None
    workflow.publish(article=article, user=staff, override_reason="Short summary")
    article.refresh_from_db()
    assert article.is_live and article.published_at is not None


def test_admin_sanitises_the_body_on_save(staff_client):
    staff_client.post(
        reverse("admin:articles_article_add"),
        admin_article_form(body='<p onclick="x()">Hi</p><script>alert(1)</script>'),
    )
    assert Article.objects.get().body == "<p>Hi</p>"


def test_cover_image_without_alt_text_is_refused_with_a_message(staff_client):
    form = admin_article_form()
    form["cover_image"] = image_upload()
    response = staff_client.post(reverse("admin:articles_article_add"), form)
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "Describe the cover image" in errors["cover_image_alt"][0]
    assert not Article.objects.exists()


def test_cover_image_that_is_not_an_image_is_refused(staff_client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    form = admin_article_form(cover_image_alt="x")
    form["cover_image"] = SimpleUploadedFile("x.png", b"not an image")
    response = staff_client.post(reverse("admin:articles_article_add"), form)
    assert response.status_code == 200
    assert "cover_image" in response.context["adminform"].form.errors
    assert not Article.objects.exists()


def test_cover_image_with_alt_text_is_stored_with_its_size(staff_client):
    form = admin_article_form(cover_image_alt="Cream on a towel")
    form["cover_image"] = image_upload(size=(90, 60))
    response = staff_client.post(reverse("admin:articles_article_add"), form)
    assert response.status_code == 302
    article = Article.objects.get()
    assert article.cover_image.name.startswith("covers/")
    assert (article.cover_image_width, article.cover_image_height) == (90, 60)


def test_a_future_publish_time_schedules_an_article_added_in_the_admin(
    staff_client, staff
):
    staff_client.post(reverse("admin:articles_article_add"), admin_article_form())
    article = Article.objects.get()
    workflow.publish(
        article=article,
        user=staff,
        at=timezone.now() + timedelta(days=30),
        override_reason="Short summary",
    )
    article.refresh_from_db()
    assert article.is_scheduled and not article.is_live
    assert article.stage == Stage.SCHEDULED


def test_changelist_has_no_bulk_publish_or_unpublish_actions(staff_client):
    """Publishing passes approvals and content checks: only the workflow does it."""
    draft, live = make_draft(), make_article()
    url = reverse("admin:articles_article_changelist")
    text = staff_client.get(url).text
    assert "publish_selected" not in text and "unpublish_selected" not in text
    for action, article in [("publish_selected", draft), ("unpublish_selected", live)]:
        staff_client.post(url, {"action": action, "_selected_action": [article.pk]})
    draft.refresh_from_db()
    live.refresh_from_db()
    assert draft.status == Article.Status.DRAFT and live.is_live


def test_changelist_search_filters_and_state_column(staff_client):
    topic = make_topic(name="Acne")
    make_article(title="Findable acne piece", topic=topic)
    make_scheduled(title="Later piece")
    make_draft(title="Draft piece")
    url = reverse("admin:articles_article_changelist")
    text = staff_client.get(url, {"q": "findable"}).text
    assert "Findable acne piece" in text and "Draft piece" not in text
    text = staff_client.get(url, {"state": "draft"}).text
    assert "Draft piece" in text and "Findable acne piece" not in text
    text = staff_client.get(url, {"topic__id__exact": topic.pk}).text
    assert "Findable acne piece" in text and "Later piece" not in text
    text = staff_client.get(url).text
    assert ">Scheduled<" in text and ">Live<" in text and ">Draft<" in text


def test_changelist_query_count_does_not_grow_with_articles(
    staff_client, django_assert_max_num_queries
):
    for _ in range(30):
        make_article()
    # The sidebar asks each one-row model (home page, editorial policy, welcome
    # email) whether it may be added: one query each, whatever the article count.
    with django_assert_max_num_queries(13):
        staff_client.get(reverse("admin:articles_article_changelist"))


def test_view_on_site_points_drafts_to_the_preview(staff_client):
    from django.contrib.admin.sites import site

    from articles.admin.articles import ArticleAdmin

    model_admin = ArticleAdmin(Article, site)
    draft, live = make_draft(), make_article()
    assert model_admin.view_on_site(draft).endswith(f"/{draft.pk}/preview/")
    assert model_admin.view_on_site(live) == live.get_absolute_url()


def test_changelist_links_live_articles_to_the_site_and_drafts_to_preview(
    staff_client,
):
    live, draft = make_article(), make_draft()
    text = staff_client.get(reverse("admin:articles_article_changelist")).text
    assert f'<a href="{live.get_absolute_url()}">View</a>' in text
    preview = reverse("admin:articles_article_preview", args=[draft.pk])
    assert f'<a href="{preview}">Preview</a>' in text


def changelist_titles(client, **params) -> list[str]:
    response = client.get(reverse("admin:articles_article_changelist"), params)
    return [article.title for article in response.context["cl"].result_list]


def test_state_filter_offers_draft_scheduled_and_live(staff_client):
    make_article(title="Live piece")
    make_scheduled(title="Later piece")
    make_draft(title="Draft piece")
    make_draft(title="Old draft", published_at=timezone.now() - timedelta(days=3))
    text = staff_client.get(reverse("admin:articles_article_changelist")).text
    for value in ["draft", "scheduled", "live"]:
        assert f"?state={value}" in text
    assert "status__exact" not in text
    assert changelist_titles(staff_client, state="live") == ["Live piece"]
    assert changelist_titles(staff_client, state="scheduled") == ["Later piece"]
    assert sorted(changelist_titles(staff_client, state="draft")) == [
        "Draft piece",
        "Old draft",
    ]


def test_state_filter_agrees_with_the_public_rule(staff_client):
    make_article()
    make_scheduled()
    make_draft()
    live = set(changelist_titles(staff_client, state="live"))
    assert live == set(Article.objects.published().values_list("title", flat=True))
    for state in ["draft", "scheduled", "live"]:
        for title in changelist_titles(staff_client, state=state):
            label = Article.objects.get(title=title).state_label
            assert label.lower() == state


def test_state_column_sorts_draft_scheduled_live(staff_client):
    make_article(title="Live piece")
    make_draft(title="Draft piece")
    make_scheduled(title="Later piece")
    # The State column is the second one (after the title).
    assert changelist_titles(staff_client, o="2") == [
        "Draft piece",
        "Later piece",
        "Live piece",
    ]
    assert changelist_titles(staff_client, o="-2")[0] == "Live piece"


def test_changelist_shows_a_short_publish_time(staff_client):
    moment = timezone.make_aware(datetime(2026, 3, 4, 9, 5))
    make_article(published_at=moment)
    text = staff_client.get(reverse("admin:articles_article_changelist")).text
    assert "04 Mar 2026" in text and "09:05" in text
    assert "a.m." not in text


def test_text_inputs_are_wide_and_the_admin_stylesheet_is_served(staff_client):
    response = staff_client.get(reverse("admin:articles_article_add"))
    form = response.context["adminform"].form
    for name in ["title", "slug", "summary", "seo_title", "seo_description"]:
        assert "wide-text" in form.fields[name].widget.attrs["class"], name
    assert "admin/css/articles.css" in response.text
    assert finders.find("admin/css/articles.css")


def test_editor_content_stylesheet_fits_images_and_is_same_origin():
    config = settings.CKEDITOR_CONFIGS["default"]
    (css_url,) = config["contentsCss"]
    assert css_url.startswith(settings.STATIC_URL)
    css = Path(finders.find(css_url.removeprefix(settings.STATIC_URL))).read_text()
    assert re.search(r"img\s*\{[^}]*max-width:\s*100%", css)
    assert re.search(r"img\s*\{[^}]*height:\s*auto", css)


def test_image_dialog_fields_the_sanitiser_would_strip_are_disallowed():
    # CKEditor drops a dialog field whose requiredContent the filter disallows:
    # Border (img{border-width}), HSpace/VSpace (img{margin-*}), Alignment
    # (img{float}).
    disallowed = settings.CKEDITOR_CONFIGS["default"]["disallowedContent"]
    assert disallowed == "img{border*,margin*,float,width,height}"
    assert (
        sanitize_html(
            html='<p><img src="/media/a.png" alt="a" style="float:left;border:1px"></p>'
        ).count("float")
        == 0
    )


# The home page's words --------------------------------------------------------------

HOME_CHANGE = "admin:articles_homepage_change"


def home_form(**overrides) -> dict:
    return {"headline": "Calm skin, clear facts", "introduction": "Read this."} | (
        overrides
    )


def test_staff_edit_of_the_home_page_shows_on_the_home_page(staff_client, client):
    response = staff_client.post(reverse(HOME_CHANGE, args=[1]), home_form())
    assert response.status_code == 302
    text = client.get(reverse("articles:home")).text
    assert "Calm skin, clear facts</h1>" in text
    assert "Read this.</p>" in text
    assert "Skin care you can trust" not in text


def test_home_page_words_are_escaped(staff_client, client):
    staff_client.post(
        reverse(HOME_CHANGE, args=[1]), home_form(headline="<b>Bold</b> & brave")
    )
    text = client.get(reverse("articles:home")).text
    assert "&lt;b&gt;Bold&lt;/b&gt; &amp; brave" in text


def test_home_page_falls_back_to_the_defaults_without_its_row(client):
    HomePage.objects.all().delete()
    text = client.get(reverse("articles:home")).text
    assert f"{HomePage().headline}</h1>" in text
    assert HomePage().introduction in text


def test_home_page_admin_has_one_row_no_add_no_delete(staff_client):
    listing = staff_client.get(reverse("admin:articles_homepage_changelist"))
    assert listing.status_code == 302
    assert listing["Location"] == reverse(HOME_CHANGE, args=[1])
    assert staff_client.get(reverse("admin:articles_homepage_add")).status_code == 403
    delete = reverse("admin:articles_homepage_delete", args=[1])
    assert staff_client.post(delete, {"post": "yes"}).status_code == 403
    assert HomePage.objects.filter(pk=1).exists()
    change = staff_client.get(reverse(HOME_CHANGE, args=[1])).text
    assert "deletelink" not in change and "_addanother" not in change


def test_home_page_admin_can_recreate_a_missing_row(staff_client):
    HomePage.objects.all().delete()
    listing = staff_client.get(reverse("admin:articles_homepage_changelist"))
    assert listing["Location"] == reverse("admin:articles_homepage_add")
    staff_client.post(reverse("admin:articles_homepage_add"), home_form())
    assert HomePage.objects.get().headline == "Calm skin, clear facts"


def test_non_staff_cannot_edit_the_home_page(client):
    client.force_login(make_user())
    response = client.post(reverse(HOME_CHANGE, args=[1]), home_form())
    assert response.status_code == 302
    assert reverse("admin:login") in response["Location"]
    assert HomePage.objects.get().headline == HomePage().headline


def test_staff_without_the_permission_cannot_edit_the_home_page(client):
    editor = make_user(username="writer")
    editor.is_staff = True
    editor.save()
    client.force_login(editor)
    response = client.post(reverse(HOME_CHANGE, args=[1]), home_form())
    assert response.status_code == 403
    assert HomePage.objects.get().headline == HomePage().headline


# The article changelist: stage, medical, evidence -------------------------------------


def test_stage_column_shows_unpublished_changes_of_a_live_article(staff_client, staff):
    live = make_article(title="Live piece", stage=Stage.LIVE)
    workflow.save_draft(
        article=live,
        data={**revisions.snapshot(live), "title": "Live piece, retitled"},
        user=staff,
    )
    make_draft(title="Draft piece")
    text = staff_client.get(reverse("admin:articles_article_changelist")).text
    assert '<td class="field-stage_column">Live · changes in draft</td>' in text
    assert '<td class="field-stage_column">Draft</td>' in text
    # The list shows the row readers see, not the draft's new title.
    assert "Live piece, retitled" not in text


def test_stage_filter_counts_a_scheduled_article_whose_time_came_as_live(staff_client):
    make_article(title="Live piece", stage=Stage.LIVE)
    make_article(title="Came due", stage=Stage.SCHEDULED)
    make_scheduled(title="Later piece", stage=Stage.SCHEDULED)
    make_draft(title="In review", stage=Stage.IN_REVIEW)
    assert sorted(changelist_titles(staff_client, stage="live")) == [
        "Came due",
        "Live piece",
    ]
    assert changelist_titles(staff_client, stage="scheduled") == ["Later piece"]
    assert changelist_titles(staff_client, stage="in_review") == ["In review"]


def test_medical_and_evidence_filters(staff_client):
    make_article(title="Flagged", medical=True, evidence=Evidence.STRONG)
    make_article(title="By topic", topic=make_topic(medical=True))
    make_article(title="Plain", evidence=Evidence.LIMITED)
    assert sorted(changelist_titles(staff_client, medical="yes")) == [
        "By topic",
        "Flagged",
    ]
    assert changelist_titles(staff_client, medical="no") == ["Plain"]
    assert changelist_titles(staff_client, evidence__exact="strong") == ["Flagged"]


# Topics, authors and the editorial policy ------------------------------------------


def test_topic_admin_edits_medical_and_the_review_interval(staff_client):
    topic = make_topic(name="Acne", slug="acne")
    response = staff_client.post(
        reverse("admin:articles_topic_change", args=[topic.pk]),
        {
            "name": "Acne",
            "slug": "acne",
            "description": "",
            "medical": "on",
            "review_interval_months": "6",
        },
    )
    assert response.status_code == 302
    topic.refresh_from_db()
    assert topic.medical and topic.review_interval_months == 6


def test_author_admin_links_a_byline_to_a_staff_account_only(staff_client):
    reviewer = make_role_user("Medical reviewer")
    reader = make_user()
    author = make_author(name="Dr Rita", slug="dr-rita")
    url = reverse("admin:articles_author_change", args=[author.pk])
    choices = staff_client.get(url).context["adminform"].form.fields["user"].queryset
    assert reviewer in choices and reader not in choices
    form = {"name": "Dr Rita", "kind": "person", "slug": "dr-rita", "credentials": "MD"}
    assert staff_client.post(url, {**form, "user": reviewer.pk}).status_code == 302
    author.refresh_from_db()
    assert author.user == reviewer
    response = staff_client.post(url, {**form, "user": reader.pk})
    assert "user" in response.context["adminform"].form.errors


POLICY_CHANGE = "admin:articles_editorialpolicy_change"


def test_editorial_policy_is_one_row_changed_never_added_or_deleted(staff_client):
    listing = staff_client.get(reverse("admin:articles_editorialpolicy_changelist"))
    assert listing["Location"] == reverse(POLICY_CHANGE, args=[1])
    add = staff_client.get(reverse("admin:articles_editorialpolicy_add"))
    assert add.status_code == 403
    delete = reverse("admin:articles_editorialpolicy_delete", args=[1])
    assert staff_client.post(delete, {"post": "yes"}).status_code == 403
    assert EditorialPolicy.objects.filter(pk=1).exists()


def test_editors_change_the_editorial_policy_and_its_body_is_sanitised(client):
    client.force_login(make_role_user("Editor"))
    response = client.post(
        reverse(POLICY_CHANGE, args=[1]),
        {
            "title": "How we work",
            "body": '<p onclick="x()">We cite sources.</p><script>alert(1)</script>',
        },
    )
    assert response.status_code == 302
    policy = EditorialPolicy.objects.get()
    assert policy.title == "How we work"
    assert policy.body == "<p>We cite sources.</p>"


def test_writers_cannot_change_the_editorial_policy(client):
    client.force_login(make_role_user("Writer"))
    before = EditorialPolicy.objects.get().body
    response = client.post(
        reverse(POLICY_CHANGE, args=[1]), {"title": "Mine", "body": "<p>Mine</p>"}
    )
    assert response.status_code == 403
    assert EditorialPolicy.objects.get().body == before
