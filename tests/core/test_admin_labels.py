"""What the admin's markup gives assistive technology where Django's own leaves
a gap (core.admin.LabelledTabularInline, templates/admin/edit_inline/tabular.html,
templates/admin/search_form.html). axe-core checks the pages in a browser
(tests/skincare/test_admin_quality_browser.py); these check the markup without one."""

import re
from pathlib import Path

import django
import pytest
from django.urls import reverse

from articles.editorial import revisions, workflow
from newsletter.models import IssueArticle
from tests.factories import (
    make_article,
    make_draft,
    make_issue,
    make_role_user,
    make_subscriber,
)

pytestmark = pytest.mark.django_db

EMPTY_HEADER = re.compile(r"<th[^>]*>\s*</th>")


def test_each_input_of_an_inline_row_is_named_by_its_column_and_row(staff_client):
    writer = make_role_user("Writer")
    article = make_draft(created_by=writer)
    data = revisions.snapshot(article)
    data["sources"] = [{"title": "A trial", "url": "https://example.org/t"}]
    workflow.save_draft(article=article, data=data, user=writer)
    page = staff_client.get(
        reverse("admin:articles_article_change", args=[article.pk])
    ).text
    for name in ("Position", "Title", "Year", "DOI", "PMID"):
        assert f'aria-label="{name}, row 1"' in page, name
    # The blank row a new source is copied from.
    assert 'aria-label="Title, new row"' in page
    # Hidden inputs (the row's id) need no name.
    assert not re.search(r'type="hidden"[^>]*aria-label', page)


def test_each_featured_article_box_is_named_and_its_autocomplete_copies_it(
    staff_client,
):
    issue = make_issue()
    IssueArticle.objects.create(issue=issue, article=make_article(), position=1)
    page = staff_client.get(
        reverse("admin:newsletter_issue_change", args=[issue.pk])
    ).text
    assert re.search(
        r'<select name="issuearticle_set-0-article" aria-label="Article, row 1"', page
    )
    assert 'aria-label="Delete, row 1"' in page
    assert 'aria-label="Position, row 2"' in page
    assert "admin/js/select2-labels.js" in page


def test_inline_tables_have_no_empty_header_cells(staff_client):
    subscriber = make_subscriber()  # its history: a read-only inline, no delete box
    issue = make_issue()
    for path in (
        reverse("admin:newsletter_subscriber_change", args=[subscriber.pk]),
        reverse("admin:newsletter_issue_change", args=[issue.pk]),
        reverse("admin:articles_article_add"),
    ):
        page = staff_client.get(path).text
        assert 'class="tabular inline-related' in page, path
        assert not EMPTY_HEADER.search(page), path


def test_the_search_box_of_a_list_is_named_in_words(staff_client):
    page = staff_client.get(reverse("admin:newsletter_subscriber_changelist")).text
    assert re.search(r'id="searchbar" aria-label="Search subscribers"', page)


DJANGO_TEMPLATES = Path(django.__file__).parent / "contrib/admin/templates/admin"
OUR_TEMPLATES = Path(__file__).parents[2] / "templates/admin"


def without_comment(text: str) -> str:
    return re.sub(r"\A\{% comment %\}.*?\{% endcomment %\}", "", text, flags=re.S)


@pytest.mark.parametrize(
    "name, changes",
    [
        (
            "edit_inline/tabular.html",
            [
                (
                    '       <th class="original"></th>\n',
                    "       {# Skincare: an empty cell, not an empty header "
                    "(axe: empty-table-header). #}\n"
                    '       <td class="original"></td>\n',
                ),
                (
                    "     <th>{% if inline_admin_formset.formset.can_delete and "
                    "inline_admin_formset.has_delete_permission %}"
                    '{% translate "Delete?" %}{% endif %}</th>\n',
                    "     {% if inline_admin_formset.formset.can_delete and "
                    "inline_admin_formset.has_delete_permission %}"
                    '<th>{% translate "Delete?" %}</th>'
                    "{% else %}<td></td>{% endif %}\n",
                ),
            ],
        ),
        (
            "search_form.html",
            [
                (
                    'id="searchbar"{% if',
                    'id="searchbar" aria-label="{% translate \'Search\' %} '
                    '{{ cl.opts.verbose_name_plural }}"{% if',
                ),
            ],
        ),
    ],
)
def test_the_admin_templates_we_copy_differ_from_djangos_only_in_our_fix(name, changes):
    """A Django upgrade that changes one of these templates fails here: copy it
    again and make the same change."""
    expected = (DJANGO_TEMPLATES / name).read_text()
    for old, new in changes:
        assert expected.count(old) == 1, old
        expected = expected.replace(old, new)
    assert without_comment((OUR_TEMPLATES / name).read_text()) == expected
