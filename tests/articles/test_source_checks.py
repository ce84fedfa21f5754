"""The source check (articles/sources/): links, DOIs and PMIDs of live articles
checked against a fake web on 127.0.0.1, the history kept per source across
edits, the twice-in-a-row rule, odd addresses refused unfetched, the pace per
host, and the pause switch honoured midway."""

import itertools

import pytest
from django.utils import timezone

from articles.editorial import revisions
from articles.models import (
    Outcome,
    ProblemKind,
    SourceCheck,
    SourceCheckState,
    SourceProblem,
    SourceTarget,
)
from articles.sources import checking, targets
from articles.sources.fetch import Fetcher
from tests.articles.fake_sources import (
    FINE_DOI,
    FINE_PMID,
    MISSING_PMID,
    RELATION_RETRACTED_DOI,
    RETRACTED_DOI,
    RETRACTED_PMID,
    UNKNOWN_DOI,
)
from tests.articles.source_fixtures import cite, live_article, tls_web, web
from tests.factories import make_draft

pytestmark = pytest.mark.django_db
__all__ = ["tls_web", "web"]


def last_check(value: str) -> SourceCheck:
    return SourceCheck.objects.filter(target__value=value).first()


def test_a_fine_link_is_checked_once_with_a_user_agent_naming_the_site(web, settings):
    article = live_article()
    cite(article, url=web.url("/ok/page"))

    outcome = checking.run()

    check = last_check(web.url("/ok/page"))
    assert (check.outcome, check.http_status) == (Outcome.OK, 200)
    assert outcome.finished and outcome.checked == outcome.total == 1
    assert not SourceProblem.objects.exists()
    agent = web.seen[0].agent
    assert settings.SITE_URL in agent and "desk@example.com" in agent


def test_only_live_articles_sources_are_checked(web):
    cite(make_draft(), url=web.url("/ok/draft"))
    cite(live_article(), url=web.url("/ok/live"))

    checking.run()

    assert web.paths() == ["/ok/live"]


def test_a_link_failing_once_is_no_problem_but_twice_in_a_row_is(web):
    article = live_article()
    cite(article, url=web.url("/missing"))

    checking.run()
    assert not SourceProblem.objects.exists()
    article.refresh_from_db()
    assert article.review_due is None

    checking.run()
    problem = SourceProblem.objects.get()
    assert problem.kind == ProblemKind.FAILING
    assert "404" in problem.reason
    article.refresh_from_db()
    assert article.review_due == timezone.localdate()
    assert SourceCheck.objects.count() == 2


def test_a_success_between_two_failures_resets_the_count(web):
    cite(live_article(), url=web.url("/missing"))
    checking.run()
    web.fixed.add("/missing")
    checking.run()
    web.fixed.clear()
    checking.run()

    assert SourceTarget.objects.get().consecutive_failures == 1
    assert not SourceProblem.objects.exists()


def test_gone_pages_timeouts_and_tls_errors_are_failures_with_their_reason(
    web, tls_web
):
    article = live_article()
    cite(article, url=web.url("/gone"))
    cite(article, url=web.url("/slow"))
    cite(article, url=tls_web.url("/ok/secure"))

    checking.run()

    assert "410" in last_check(web.url("/gone")).reason
    assert "timed out" in last_check(web.url("/slow")).reason
    assert "TLS" in last_check(tls_web.url("/ok/secure")).reason
    assert set(SourceCheck.objects.values_list("outcome", flat=True)) == {
        Outcome.BROKEN
    }


def test_a_permanent_move_is_a_problem_at_once_with_its_final_address(web):
    article = live_article()
    cite(article, url=web.url("/moved"))
    cite(article, url=web.url("/moved-308"))
    cite(article, url=web.url("/temporary"))

    checking.run()

    moved = SourceProblem.objects.get(target__value=web.url("/moved"))
    assert moved.kind == ProblemKind.MOVED
    assert moved.final_url == web.url("/ok/new-home")
    assert last_check(web.url("/moved")).final_url == web.url("/ok/new-home")
    assert SourceProblem.objects.filter(target__value=web.url("/moved-308")).exists()
    # A temporary redirect is followed and recorded, but is no problem.
    temporary = last_check(web.url("/temporary"))
    assert (temporary.outcome, temporary.final_url) == (
        Outcome.OK,
        web.url("/ok/for-now"),
    )
    assert SourceProblem.objects.count() == 2


def test_a_refused_head_is_asked_again_with_get(web):
    cite(live_article(), url=web.url("/head-refused"))

    checking.run()

    assert [(s.method, s.path) for s in web.seen] == [
        ("HEAD", "/head-refused"),
        ("GET", "/head-refused"),
    ]
    assert last_check(web.url("/head-refused")).outcome == Outcome.OK


def test_dois_are_resolved_and_retractions_found_in_crossref(web):
    article = live_article()
    for doi in (FINE_DOI, RETRACTED_DOI, RELATION_RETRACTED_DOI, UNKNOWN_DOI):
        cite(article, doi=f"https://doi.org/{doi.upper()}")

    checking.run()

    assert last_check(FINE_DOI).outcome == Outcome.OK
    assert last_check(FINE_DOI).final_url == web.url(f"/ok/landing/{FINE_DOI}")
    assert last_check(RETRACTED_DOI).outcome == Outcome.RETRACTED
    assert "10.1234/notice" in last_check(RETRACTED_DOI).reason
    assert last_check(RELATION_RETRACTED_DOI).outcome == Outcome.RETRACTED
    assert last_check(UNKNOWN_DOI).outcome == Outcome.BROKEN
    assert set(SourceProblem.objects.values_list("kind", flat=True)) == {
        ProblemKind.RETRACTED
    }


def test_pmids_are_looked_up_in_pubmed_with_its_retraction_mark(web):
    article = live_article()
    for pmid in (FINE_PMID, RETRACTED_PMID, MISSING_PMID):
        cite(article, pmid=pmid)

    checking.run()

    assert last_check(FINE_PMID).outcome == Outcome.OK
    assert last_check(RETRACTED_PMID).outcome == Outcome.RETRACTED
    assert "Retracted Publication" in last_check(RETRACTED_PMID).reason
    assert last_check(MISSING_PMID).outcome == Outcome.BROKEN
    assert SourceProblem.objects.get().kind == ProblemKind.RETRACTED


def test_the_history_is_kept_across_edits_of_the_article(web):
    article = live_article()
    cite(article, url=web.url("/missing"), title="First title")
    checking.run()
    target = SourceTarget.objects.get()

    # Every save writes the Reference rows afresh.
    revisions.write_sources(
        article=article,
        sources=[
            {"title": "Retitled", "url": web.url("/ok/new")},
            {"title": "Same link", "url": web.url("/missing") + "#section"},
        ],
    )
    checking.run()

    assert SourceTarget.objects.get(value=web.url("/missing")).pk == target.pk
    assert target.checks.count() == 2
    assert SourceProblem.objects.get().target == target


def test_a_source_no_longer_cited_closes_its_problem(web):
    article = live_article()
    cite(article, url=web.url("/moved"))
    checking.run()
    assert SourceProblem.objects.filter(resolved_at=None).count() == 1

    revisions.write_sources(article=article, sources=[{"title": "Other", "url": ""}])
    checking.run()

    assert SourceProblem.objects.filter(resolved_at=None).count() == 0


def test_a_fixed_link_closes_its_problem_and_a_dismissed_one_is_not_raised_again(
    web,
):
    cite(live_article(), url=web.url("/missing"))
    checking.run()
    checking.run()
    problem = SourceProblem.objects.get()
    SourceProblem.objects.filter(pk=problem.pk).update(dismissed_at=timezone.now())

    checking.run()
    assert SourceProblem.objects.count() == 1

    web.fixed.add("/missing")
    checking.run()
    problem.refresh_from_db()
    assert problem.resolved_at is not None


def test_odd_addresses_are_problems_at_once_and_never_fetched(web, settings):
    settings.SOURCE_CHECK_ALLOW_PRIVATE = False
    article = live_article()
    odd = {
        "/ok/relative": "relative",
        "javascript:alert(1)": "javascript:",
        "data:text/html,hello": "data:",
        "http://" + "é" * 70 + ".example/": "cannot be encoded",
        web.url("/ok/private"): "private or local",
    }
    for url in odd:
        cite(article, url=url)

    checking.run()

    assert web.seen == []
    for url, reason in odd.items():
        problem = SourceProblem.objects.get(target__value=targets.normalise_url(url))
        assert problem.kind == ProblemKind.UNUSABLE
        assert reason in problem.reason


def test_an_overlong_address_is_refused_and_an_idn_host_encoded():
    assert "longer than 2000" in targets.url_refusal("https://a.example/" + "a" * 2000)
    assert targets.ascii_host("bücher.example") == "xn--bcher-kva.example"
    assert targets.url_refusal("https://bücher.example/page") == ""


def test_a_redirect_to_a_private_address_is_not_followed(web, settings):
    settings.SOURCE_CHECK_ALLOW_PRIVATE = False
    fetcher = Fetcher()
    # Only the redirect's target is checked here: the fake web itself is local.
    assert "private or local" in fetcher.refusal("http://127.0.0.1:9/")
    fetcher.close()


def test_requests_to_one_host_wait_the_delay_between_them(web, settings):
    settings.SOURCE_CHECK_HOST_DELAY = 0.2
    settings.SOURCE_CHECK_THREADS = 4
    article = live_article()
    for n in range(4):
        cite(article, url=web.url(f"/ok/{n}"))

    checking.run()

    times = sorted(s.at for s in web.seen)
    assert len(times) == 4
    assert min(b - a for a, b in itertools.pairwise(times)) >= 0.19


def test_pausing_stops_the_run_at_the_next_source_and_unpausing_resumes_it(
    web, monkeypatch
):
    article = live_article()
    for n in range(6):
        cite(article, url=web.url(f"/ok/{n}"))
    record = checking.record
    calls = []

    def record_then_pause(**kwargs):
        calls.append(kwargs)
        if len(calls) == 2:
            # An editor ticks the switch while the run goes on.
            SourceCheckState.objects.filter(pk=1).update(paused=True)
        return record(**kwargs)

    monkeypatch.setattr(checking, "record", record_then_pause)

    first = checking.run()
    assert first.paused and not first.finished
    assert 2 <= first.checked < 6
    assert checking.run().checked == first.checked  # still paused: nothing done

    SourceCheckState.objects.filter(pk=1).update(paused=False)
    second = checking.run()

    assert second.finished and second.checked == second.total == 6
    # Each source once: the resumed run started where the first stopped.
    assert SourceCheck.objects.count() == 6
    assert sorted(p for p in web.paths()) == sorted(f"/ok/{n}" for n in range(6))
    state = SourceCheckState.objects.get()
    assert state.run_finished_at >= state.run_started_at


def test_a_new_run_starts_over_once_the_last_one_finished(web):
    cite(live_article(), url=web.url("/ok/page"))
    checking.run()

    checking.run()

    assert SourceCheck.objects.count() == 2
