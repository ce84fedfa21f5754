"""Revision history in the admin: the list, the side-by-side comparison, and
restoring an old revision as a new draft (articles/admin/revision_views.py)."""

import re

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from articles.editorial import diff, revisions, workflow
from articles.editorial.diff import diff_lines, word_diff
from articles.models import Article, ArticleRevision, MedicalApproval, Stage
from tests.factories import (
    make_article,
    make_draft,
    make_reviewer,
    make_role_user,
    make_staff,
    make_topic,
    make_user,
)

pytestmark = pytest.mark.django_db


def edit(article: Article, user, note: str = "", **changes) -> ArticleRevision:
    article.refresh_from_db()
    data = revisions.snapshot(article)
    data.update(changes)
    return workflow.save_draft(article=article, data=data, user=user, note=note)


def list_url(article: Article) -> str:
    return reverse("admin:articles_article_revisions", args=[article.pk])


def compare_url(article: Article) -> str:
    return reverse("admin:articles_article_compare", args=[article.pk])


def restore_url(article: Article, number: int) -> str:
    return reverse("admin:articles_article_restore", args=[article.pk, number])


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.fixture
def editor(db):
    return make_role_user("Editor", username="eddie")


@pytest.fixture
def live_with_draft(editor):
    """A live article (revision 1, live) with a later draft (revision 2)."""
    article = make_article(title="Retinol basics", body="<p>Start slowly.</p>")
    revisions.latest(article, user=editor)
    edit(
        article,
        editor,
        note="Tighter title",
        title="Retinol, the basics",
        body="<p>Start slowly.</p><p>Use sunscreen.</p>",
    )
    article.refresh_from_db()
    assert article.live_revision.number == 1
    assert article.latest_revision.number == 2
    return article


def test_revision_list_shows_who_when_note_live_latest_and_approvals(
    client, editor, live_with_draft
):
    article = live_with_draft
    reviewer = make_reviewer(username="rhea")
    MedicalApproval.objects.create(
        article=article,
        revision=article.live_revision,
        review_hash=article.live_revision.review_hash,
        reviewer=reviewer.author_profile,
        reviewer_name="Dr Rhea",
        reviewer_credentials="MD, FAAD",
        user=reviewer,
    )
    client.force_login(editor)
    response = client.get(list_url(article))
    assert response.status_code == 200
    text = response.text
    first = text[text.index('id="revision-1"') :]
    second = text[text.index('id="revision-2"') : text.index('id="revision-1"')]
    assert "Live" in first and "Latest" not in first.split("</tr>")[0]
    assert "Latest" in second and "Tighter title" in second
    assert "eddie" in second
    assert "Dr Rhea, MD, FAAD" in first.split("</tr>")[0]
    assert "Restore revision 1 as a new draft" in text
    assert "Restore revision 2 as a new draft" not in text  # the latest already


def test_change_page_links_to_the_revisions_and_the_live_comparison(
    client, editor, live_with_draft
):
    client.force_login(editor)
    change = reverse("admin:articles_article_change", args=[live_with_draft.pk])
    text = client.get(change).text
    assert f'href="{list_url(live_with_draft)}"' in text
    assert f'href="{compare_url(live_with_draft)}"' in text
    assert "Compare this draft with the live version" in text


def test_a_reviewer_sees_revisions_but_no_restore_button(client, live_with_draft):
    client.force_login(make_reviewer())
    response = client.get(list_url(live_with_draft))
    assert response.status_code == 200
    assert "Restore revision" not in response.text
    assert "Your role cannot change articles." in response.text
    compare = client.get(compare_url(live_with_draft))
    assert compare.status_code == 200
    assert "Restore revision" not in compare.text


def test_staff_without_view_permission_get_403_and_visitors_the_login(
    client, live_with_draft
):
    assert client.get(list_url(live_with_draft)).status_code == 302
    client.force_login(make_user())
    response = client.get(list_url(live_with_draft))
    assert response.status_code == 302
    assert reverse("admin:login") in response["Location"]
    nobody = make_user(username="plain-staff")
    nobody.is_staff = True
    nobody.save()
    client.force_login(nobody)
    assert client.get(list_url(live_with_draft)).status_code == 403
    assert client.get(compare_url(live_with_draft)).status_code == 403
    assert client.post(restore_url(live_with_draft, 1)).status_code == 403


def test_compare_defaults_to_the_live_revision_against_the_latest(
    client, editor, live_with_draft
):
    client.force_login(editor)
    response = client.get(compare_url(live_with_draft))
    assert response.context["old"].number == 1
    assert response.context["new"].number == 2
    assert response.context["changed_labels"] == ["Title", "Body text"]


def test_compare_marks_changes_with_del_ins_and_labels(client, editor, live_with_draft):
    client.force_login(editor)
    text = client.get(compare_url(live_with_draft) + "?old=1&new=2").text
    # The title's added words underlined in a row labelled as changed: the
    # change is told by markup and words, not colour alone.
    title_row = re.search(r'<tr class="diff-replace">(.*?)</tr>', text, re.S)
    assert title_row
    assert '<td class="diff-label">Changed</td>' in title_row.group(1)
    assert "<td>Retinol basics</td>" in title_row.group(1)
    assert "<td>Retinol<ins>, the</ins> basics</td>" in title_row.group(1)
    added = re.search(r'<tr class="diff-insert">(.*?)</tr>', text, re.S)
    assert added and "Added" in added.group(1)
    assert "<ins>Use sunscreen.</ins>" in added.group(1)
    assert (
        "No change: Address (slug), Summary, Sources, SEO title, SEO description, "
        "Evidence label, Cover image, Cover image alt text, Author, Topic, Medical "
        "article, Featured." in text
    )


def test_compare_in_either_order_puts_the_older_revision_left(
    client, editor, live_with_draft
):
    client.force_login(editor)
    response = client.get(compare_url(live_with_draft) + "?old=2&new=1")
    assert (response.context["old"].number, response.context["new"].number) == (1, 2)


@pytest.mark.parametrize(
    "query", ["?old=1&new=9", "?old=999&new=abc", "?old=1&new=" + "9" * 25]
)
def test_compare_of_a_missing_revision_says_so(client, editor, live_with_draft, query):
    client.force_login(editor)
    response = client.get(compare_url(live_with_draft) + query)
    assert response.status_code == 302
    assert "There is no such revision of this article." in messages_of(response)


def test_compare_shows_sources_seo_and_evidence_changes(client, editor):
    article = make_draft(created_by=editor)
    revisions.latest(article, user=editor)
    edit(article, editor, seo_title="Old SEO", evidence="limited")
    edit(
        article,
        editor,
        seo_title="New SEO",
        evidence="strong",
        sources=[{"title": "A trial", "publisher": "JAAD", "year": 2024}],
    )
    client.force_login(editor)
    response = client.get(compare_url(article) + "?old=2&new=3")
    assert response.context["changed_labels"] == [
        "Sources",
        "SEO title",
        "Evidence label",
    ]
    assert "<ins>A trial. JAAD. 2024</ins>" in response.text


def test_compare_shows_a_changed_link_target_and_image(client, editor):
    article = make_draft(
        created_by=editor,
        body='<p>Read <a href="https://example.org/kp">the guide</a>.</p>'
        '<p><img src="/media/uploads/a.png" alt="A rash"></p>',
    )
    revisions.latest(article, user=editor)
    edit(
        article,
        editor,
        body='<p>Read <a href="https://pills.example/buy">the guide</a>.</p>'
        '<p><img src="/media/uploads/a.png"></p>',
    )
    client.force_login(editor)
    response = client.get(compare_url(article) + "?old=1&new=2")
    assert response.context["changed_labels"] == ["Body text"]
    [body] = [field for field in response.context["fields"] if field.changed]
    left, right = (
        ["".join(text for _, text in getattr(line, side)) for line in body.lines]
        for side in ("left", "right")
    )
    assert left == [
        "Read the guide (https://example.org/kp).",
        "[Image /media/uploads/a.png, alt text “A rash”]",
    ]
    assert right == [
        "Read the guide (https://pills.example/buy).",
        "[Image /media/uploads/a.png, no alt text]",
    ]


def test_changed_lines_past_the_word_budget_are_marked_whole(monkeypatch):
    monkeypatch.setattr(diff, "WORD_DIFF_BUDGET", 60)
    rows = [
        ("replace", "the old words here", "the new words here"),
        ("replace", "more old words here", "more new words here"),
    ]
    first, second = diff_lines(rows)
    assert first.left == [(False, "the "), (True, "old"), (False, " words here")]
    assert second.left == [(True, "more old words here")]
    assert second.right == [(True, "more new words here")]


def test_long_unchanged_runs_are_folded_around_a_change():
    rows = [("equal", f"p{i}", f"p{i}") for i in range(10)]
    rows[5] = ("replace", "the old words here", "the new words here")
    lines = diff_lines(rows)
    assert [line.kind for line in lines] == [
        "skip",
        "equal",
        "equal",
        "replace",
        "equal",
        "equal",
        "skip",
    ]
    assert (lines[0].skipped, lines[-1].skipped) == (3, 2)
    assert lines[3].left == [(False, "the "), (True, "old"), (False, " words here")]
    assert lines[3].right == [(False, "the "), (True, "new"), (False, " words here")]


def test_word_diff_marks_only_the_changed_words_joined_by_their_spaces():
    old, new = word_diff(
        "Apply twice a day to dry skin.", "Apply once or twice a week to dry skin."
    )
    assert [text for changed, text in old if changed] == ["day"]
    assert [text for changed, text in new if changed] == [" once or", "week"]


def test_word_diff_marks_a_rewritten_line_whole():
    old, new = word_diff("Always at night.", "Use sunscreen every morning.")
    assert old == [(True, "Always at night.")]
    assert new == [(True, "Use sunscreen every morning.")]


def test_restoring_a_live_article_makes_a_draft_and_keeps_the_public_page(
    client, editor, live_with_draft
):
    article = live_with_draft
    client.force_login(editor)
    response = client.post(restore_url(article, 1))
    assert response.status_code == 302
    assert response["Location"] == reverse(
        "admin:articles_article_change", args=[article.pk]
    )
    assert messages_of(response) == [
        "Revision 1 restored as a new draft, revision 3. Readers still see the "
        "published version until this draft is published."
    ]
    article.refresh_from_db()
    restored = article.latest_revision
    assert restored.number == 3
    assert restored.data["title"] == "Retinol basics"
    assert restored.note == "Restored from revision 1"
    assert article.live_revision.number == 1
    assert article.stage == Stage.DRAFT
    assert article.title == "Retinol basics"  # the row: what readers see
    public = client.get(article.get_absolute_url())
    assert public.status_code == 200
    assert "Use sunscreen." not in public.text


def test_restoring_the_draft_over_the_live_one_still_leaves_the_page_alone(
    client, editor, live_with_draft
):
    article = live_with_draft
    edit(article, editor, title="Retinol for beginners")
    client.force_login(editor)
    client.post(restore_url(article, 2))
    article.refresh_from_db()
    assert article.latest_revision.data["title"] == "Retinol, the basics"
    assert article.title == "Retinol basics"
    page = client.get(article.get_absolute_url()).text
    assert '<h1 class="article__title">Retinol basics</h1>' in page


def test_restoring_a_draft_article_changes_its_row(client, editor):
    article = make_draft(title="First title", created_by=editor)
    edit(article, editor, title="Second title")
    client.force_login(editor)
    response = client.post(restore_url(article, 1))
    assert messages_of(response) == ["Revision 1 restored as a new draft, revision 3."]
    article.refresh_from_db()
    assert article.title == "First title"
    assert article.latest_revision.number == 3


def test_restoring_the_latest_revision_changes_nothing(client, editor, live_with_draft):
    client.force_login(editor)
    response = client.post(restore_url(live_with_draft, 2))
    assert messages_of(response) == [
        "Revision 2 is the same as the latest revision: nothing to restore."
    ]
    assert live_with_draft.revisions.count() == 2


def test_a_writer_cannot_restore_someone_elses_article(client, live_with_draft):
    writer = make_role_user("Writer")
    client.force_login(writer)
    response = client.post(restore_url(live_with_draft, 1))
    assert response.status_code == 302
    assert messages_of(response) == [
        "Writers change only their own articles; ask an editor."
    ]
    assert live_with_draft.revisions.count() == 2


def test_a_writer_restores_their_own_draft(client):
    writer = make_role_user("Writer")
    article = make_draft(title="Mine", created_by=writer)
    edit(article, writer, title="Mine, edited")
    client.force_login(writer)
    client.post(restore_url(article, 1))
    article.refresh_from_db()
    assert article.latest_revision.data["title"] == "Mine"


def test_restoring_a_locked_article_is_refused_for_its_writer(client):
    writer = make_role_user("Writer")
    article = make_draft(title="Mine", created_by=writer)
    edit(article, writer, title="Mine, edited")
    workflow.submit_for_review(article=article, user=writer)
    client.force_login(writer)
    response = client.post(restore_url(article, 1))
    assert "it is locked for writers" in messages_of(response)[0]
    assert article.revisions.count() == 2


def test_restore_needs_post(client, editor, live_with_draft):
    client.force_login(editor)
    response = client.get(restore_url(live_with_draft, 1))
    assert response.status_code == 302 and response.url == list_url(live_with_draft)
    assert "Nothing was done" in messages_of(response)[0]
    assert live_with_draft.revisions.count() == 2


def test_a_revision_of_another_article_is_not_found(client, editor, live_with_draft):
    other = make_draft(topic=make_topic())
    client.force_login(editor)
    assert client.post(restore_url(other, 1)).status_code == 404


def test_an_article_without_revisions_has_an_empty_history(client, editor):
    article = make_article()
    client.force_login(editor)
    response = client.get(list_url(article))
    assert "No revisions yet" in response.text
    assert not article.revisions.exists()  # looking makes none
    assert client.get(compare_url(article)).status_code == 302


@pytest.mark.parametrize("count", [3, 30])
def test_the_revision_list_takes_the_same_queries_for_few_and_many(
    client, django_assert_max_num_queries, count
):
    staff = make_staff()
    reviewer = make_reviewer()
    article = make_draft(created_by=staff)
    for n in range(count):
        revision = edit(article, staff, note=f"Edit {n}", title=f"Title {n}")
        MedicalApproval.objects.create(
            article=article,
            revision=revision,
            review_hash=revision.review_hash,
            reviewer=reviewer.author_profile,
            user=reviewer,
        )
    client.force_login(staff)
    with django_assert_max_num_queries(12):
        response = client.get(list_url(article))
    # Revision 1 is the row as it was before the first edit.
    assert response.text.count('name="old"') == count + 1
