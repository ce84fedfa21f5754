"""Inline citations: "[1]" in the text links to source 1 under the article, and
each cited source links back to where the text first cites it."""

import re
from collections import Counter

import pytest

from articles.editorial import revisions
from articles.editorial.content_checks import cited_numbers
from articles.models import Reference
from articles.publishing import prepared
from articles.publishing.body import first_citations, render_body
from tests.factories import make_article


def cite(number: int, anchor: str = "", text: str = "") -> str:
    return (
        f'<a href="#source-{number}" id="{anchor or f"cite-{number}"}" class="cite" '
        f'aria-label="Source {number}">{text or number}</a>'
    )


def group(inner: str) -> str:
    return f'<span class="citation">[{inner}]</span>'


def test_a_citation_links_to_its_source():
    html = render_body("<p>Retinoids help [1].</p>", source_count=1)
    assert html == f"<p>Retinoids help {group(cite(1))}.</p>"


def test_lists_and_ranges_link_each_number_written():
    html = render_body("<p>Both [1, 2] and more [2-4].</p>", source_count=4)
    assert group(f"{cite(1)}, {cite(2)}") in html
    assert group(f"{cite(2, 'cite-2-2')}-{cite(4)}") in html


def test_a_source_inside_a_range_leads_back_to_the_range():
    body = "<p>Several trials [2\u20134].</p>"
    assert first_citations(body, 4) == {2: "cite-2", 3: "cite-2", 4: "cite-4"}
    assert group(f"{cite(2)}\u2013{cite(4)}") in render_body(body, source_count=4)


def test_an_en_dash_written_as_an_entity_is_a_range_too():
    body = "<p>Trials [1&ndash;2].</p>"
    assert render_body(body, source_count=2) == (
        f"<p>Trials {group(f'{cite(1)}&ndash;{cite(2)}')}.</p>"
    )


def test_repeated_citations_get_unique_ids_and_the_first_is_predictable():
    body = "<p>One [1]. Again [1]. And [1, 2].</p>"
    html = render_body(body, source_count=2)
    ids = re.findall(r'id="([^"]+)"', html)
    assert ids == ["cite-1", "cite-1-2", "cite-1-3", "cite-2"]
    assert first_citations(body, 2) == {1: "cite-1", 2: "cite-2"}


@pytest.mark.parametrize(
    "body",
    [
        "<p>No source has number zero [0].</p>",
        "<p>Past the last source [4].</p>",
        "<p>Not a citation [note] nor [a1] nor [1a] nor [ 1 ].</p>",
        "<p>A backwards range [3-1].</p>",
        "<p>A range of missing sources [5-9].</p>",
    ],
)
def test_numbers_without_a_source_stay_plain_text(body):
    assert render_body(body, source_count=3) == body
    assert first_citations(body, 3) == {}


def test_without_sources_nothing_is_linked():
    body = "<p>Cited [1] but the list is empty.</p>"
    assert render_body(body) == body
    assert render_body(body, source_count=0) == body


def test_only_the_existing_part_of_a_partly_valid_citation_is_linked():
    html = render_body("<p>Mixed [1, 7] and [2-5].</p>", source_count=3)
    assert group(f"{cite(1)}, 7") in html
    assert group(f"{cite(2)}-5") in html
    assert first_citations("<p>Mixed [1, 7] and [2-5].</p>", 3) == {
        1: "cite-1",
        2: "cite-2",
        3: "cite-2",
    }


def test_links_attributes_and_code_are_left_alone():
    body = (
        '<p><a href="https://example.org/?q=[1]" title="[1]">see [1]</a> '
        '<img src="/m/a.png" alt="Chart [1]"> <code>list[1]</code></p>'
        "<pre>x = y[2]</pre><p>After the link [2].</p>"
    )
    html = render_body(body, source_count=2)
    assert html.count('class="cite"') == 1
    assert f"After the link {group(cite(2))}." in html
    assert '<a href="https://example.org/?q=[1]" title="[1]">see [1]</a>' in html
    assert 'alt="Chart [1]"' in html and "<code>list[1]</code>" in html


def test_a_citation_in_a_heading_keeps_the_heading_id():
    html = render_body("<h2>Results [1]</h2><p>x</p>", source_count=1)
    assert html.startswith(f'<h2 id="results-1">Results {group(cite(1))}</h2>')


def test_a_heading_never_takes_a_citation_or_source_id():
    html = render_body("<h2>Source 1</h2><h2>Cite 2</h2><p>[1] [2]</p>", source_count=2)
    ids = re.findall(r'id="([^"]+)"', html)
    assert ids[:2] == ["section-source-1", "section-cite-2"]
    assert len(ids) == len(set(ids))


def test_the_number_of_sources_is_part_of_the_cache_key():
    body = "<p>Cited [2].</p>"
    assert 'class="cite"' not in render_body(body, source_count=1)
    assert 'class="cite"' in render_body(body, source_count=2)
    assert 'class="cite"' not in render_body(body, source_count=1)


@pytest.mark.parametrize(
    "body",
    [
        "<p>[1] [2, 3] [4-6] [7\u20138] [9 , 10] [1-2-3]</p>",
        "<p>[0] [note] [12] [3-1]</p>",
        "<h2>Heading [2]</h2><ul><li>Item [1,3]</li></ul>",
    ],
)
def test_linked_numbers_agree_with_the_content_check(body):
    """Every number the publish check accepts as cited is linked or led back to."""
    count = 12
    cited = {n for n in cited_numbers(body) if 1 <= n <= count}
    assert set(first_citations(body, count)) == cited


# On the article page ------------------------------------------------------------------


@pytest.mark.django_db
def test_cited_sources_link_back_to_their_first_citation(client):
    article = make_article(body="<p>Retinoids [2] help; so does time [2, 3].</p>")
    for position, title in enumerate(("Never cited", "Trial", "Review"), start=1):
        Reference.objects.create(article=article, position=position, title=title)
    text = client.get(article.get_absolute_url()).text
    assert f"Retinoids {group(cite(2))} help" in text
    assert group(f"{cite(2, 'cite-2-2')}, {cite(3)}") in text
    items = dict(re.findall(r'<li id="source-(\d)">(.*?)</li>', text, re.S))
    assert set(items) == {"1", "2", "3"}
    back = (
        '<a class="sources__back" href="#cite-{n}"><span aria-hidden="true">'
        '&uarr;&nbsp;</span>Back to text<span class="visually-hidden"> (source {n})'
        "</span></a>"
    )
    assert back.format(n=2) in items["2"] and back.format(n=3) in items["3"]
    assert "Back to text" not in items["1"]
    ids = Counter(re.findall(r'\bid="([^"]+)"', text))
    assert [name for name, n in ids.items() if n > 1] == []


@pytest.mark.django_db
def test_an_article_without_sources_links_no_citation(client):
    article = make_article(body="<p>Claimed [1].</p>")
    text = client.get(article.get_absolute_url()).text
    assert "<p>Claimed [1].</p>" in text
    assert 'class="cite"' not in text and "Back to text" not in text


@pytest.mark.django_db
def test_a_revision_preview_numbers_the_revisions_own_sources():
    article = make_article(body="<p>Cited [1].</p>")
    Reference.objects.create(article=article, title="Live source")
    data = {**revisions.snapshot(article), "sources": [{"title": "Draft source"}]}
    revision = revisions.create_revision(article=article, data=data)
    copy = revisions.as_article(revision)
    preview = prepared.ArticlePage(copy, preview=True)
    assert [s["title"] for s in preview.sources] == ["Draft source"]
    live = prepared.ArticlePage(article, preview=True)
    assert [s.title for s in live.sources] == ["Live source"]
    [item] = preview.numbered_sources
    assert (item.number, item.first_citation) == (1, "cite-1")
