"""The editorial policy page: the editors' text, what the evidence labels and the
medical review line mean, linked from every page and named in the JSON-LD."""

import json
import re

import pytest
from django.urls import reverse

from articles.models import EVIDENCE_EXPLAINED, EditorialPolicy, Evidence
from tests.factories import make_article

pytestmark = pytest.mark.django_db

URL = "/editorial-policy/"


def test_policy_has_its_address_and_the_models_url():
    assert reverse("articles:editorial_policy") == URL
    assert EditorialPolicy().get_absolute_url() == URL


def test_policy_page_shows_the_saved_policy(client):
    policy = EditorialPolicy.objects.get(pk=1)
    policy.title = "How we work"
    policy.body = "<h2>Our writers</h2><p>They cite sources.</p>"
    policy.save()
    text = client.get(URL).text
    assert "<title>How we work · Skincare</title>" in text
    assert "<h1>How we work</h1>" in text
    assert '<h2 id="our-writers">Our writers</h2><p>They cite sources.</p>' in text
    assert '<a href="#our-writers">Our writers</a>' in text
    assert "Last updated <time" in text


def test_migration_default_policy_covers_review_and_corrections(client):
    text = client.get(URL).text
    assert "<h1>Editorial policy</h1>" in text
    for heading in ("Medical review", "Corrections", "Independence"):
        assert f">{heading}</h2>" in text, heading
    # The article's "How we correct articles" link lands on this section.
    assert '<h2 id="corrections">Corrections</h2>' in text


def test_every_evidence_label_is_explained_under_the_evidence_anchor(client):
    text = client.get(URL).text
    evidence = text[
        text.index('<h2 id="evidence">') : text.index('id="medical-review"')
    ]
    for value in Evidence:
        assert f"<dt>{value.label}</dt><dd>{EVIDENCE_EXPLAINED[value]}</dd>" in evidence


def test_medical_review_section_explains_both_byline_lines(client):
    text = client.get(URL).text
    review = text[text.index('<h2 id="medical-review">') :]
    assert "Medically reviewed by" in review
    assert "Not yet medically reviewed" in review


def test_policy_headings_never_take_the_pages_own_section_ids(client):
    policy = EditorialPolicy.objects.get(pk=1)
    policy.body = "<h2>Evidence</h2><p>a</p><h2>Medical review</h2><p>b</p>"
    policy.save()
    text = client.get(URL).text
    ids = re.findall(r'\bid="([^"]+)"', text)
    assert len(ids) == len(set(ids)), ids
    assert {"evidence", "medical-review", "evidence-2", "medical-review-2"} <= set(ids)


def test_a_missing_policy_row_falls_back_to_the_label_explanations(client):
    EditorialPolicy.objects.all().delete()
    response = client.get(URL)
    assert response.status_code == 200
    assert "<h1>Editorial policy</h1>" in response.text
    assert '<h2 id="evidence">' in response.text
    assert '<h2 id="medical-review">' in response.text
    assert not EditorialPolicy.objects.exists(), "the page writes nothing"


def test_policy_page_runs_one_query_after_the_page_version(
    client, django_assert_max_num_queries
):
    with django_assert_max_num_queries(2):
        assert client.get(URL).status_code == 200


def test_footer_links_to_the_policy_on_every_page(client):
    article = make_article()
    for url in (reverse("articles:home"), article.get_absolute_url(), URL):
        text = client.get(url).text
        footer = text[text.index('<footer class="site-footer">') :]
        assert f'<a href="{URL}">Editorial policy</a>' in footer, url


def test_article_json_ld_names_the_policy_as_publishing_principles(client, settings):
    settings.SITE_URL = "https://skincare.example"
    text = client.get(make_article().get_absolute_url()).text
    found = re.search(r'<script type="application/ld\+json">(.*?)</script>', text)
    graph = json.loads(found.group(1))["@graph"]
    page = next(n for n in graph if n["@type"] == "MedicalWebPage")
    article = next(n for n in graph if n["@type"] == "Article")
    policy = f"https://skincare.example{URL}"
    assert page["publishingPrinciples"] == policy
    assert article["publisher"]["publishingPrinciples"] == policy
