"""CSV export and import of subscribers in the admin."""

import csv
import hashlib
import io

import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import StreamingHttpResponse
from django.urls import reverse

from newsletter.admin.csv_export import csv_cell
from newsletter.admin.imports import IMPORT_SESSION_KEY
from newsletter.models import LawfulBasis, Subscriber, SubscriberEvent
from tests.factories import make_listed_subscriber

pytestmark = pytest.mark.django_db

S = Subscriber.Status
EXPORT_URL = "admin:newsletter_subscriber_export"
IMPORT_URL = "admin:newsletter_subscriber_import"
COLUMNS = [
    "email",
    "first_name",
    "status",
    "source",
    "consent_version",
    "consent_at",
    "consent_ip",
    "lawful_basis",
    "confirmed_at",
    "left_at",
    "left_how",
]


def read_csv(response) -> list[dict]:
    assert isinstance(response, StreamingHttpResponse)
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


# Export -------------------------------------------------------------------------------


def test_export_streams_the_filtered_list_as_csv(staff_client):
    ada = make_listed_subscriber(
        S.CONFIRMED, email="ada@example.com", first_name="Ada", consent_ip="192.0.2.1"
    )
    make_listed_subscriber(S.PENDING, email="bob@example.com")
    make_listed_subscriber(S.UNSUBSCRIBED, email="cy@example.com")
    response = staff_client.get(reverse(EXPORT_URL), {"status__exact": "confirmed"})
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith(
        'attachment; filename="subscribers-'
    )
    rows = read_csv(response)
    assert list(rows[0]) == COLUMNS
    assert rows == [
        {
            "email": "ada@example.com",
            "first_name": "Ada",
            "status": "confirmed",
            "source": "footer",
            "consent_version": "test-v1",
            "consent_at": ada.consent_at.isoformat(),
            "consent_ip": "192.0.2.1",
            "lawful_basis": "",
            "confirmed_at": ada.confirmed_at.isoformat(),
            "left_at": "",
            "left_how": "",
        }
    ]


def test_export_follows_the_search_and_includes_leaving(staff_client):
    make_listed_subscriber(S.COMPLAINED, email="ada@example.com")
    make_listed_subscriber(S.CONFIRMED, email="bob@example.com")
    rows = read_csv(staff_client.get(reverse(EXPORT_URL), {"q": "ada"}))
    assert [(r["email"], r["status"], r["left_how"]) for r in rows] == [
        ("ada@example.com", "complained", "complaint")
    ]
    assert rows[0]["left_at"]


def test_export_of_everything_without_filters(staff_client):
    for n in range(5):
        make_listed_subscriber(S.values[n], email=f"r{n}@example.com")
    rows = read_csv(staff_client.get(reverse(EXPORT_URL)))
    assert sorted(r["email"] for r in rows) == [f"r{n}@example.com" for n in range(5)]


def test_export_link_on_the_list_carries_its_filters(staff_client):
    response = staff_client.get(
        reverse("admin:newsletter_subscriber_changelist"),
        {"status__exact": "pending", "q": "ada"},
    )
    assert f"{reverse(EXPORT_URL)}?q=ada&amp;status__exact=pending" in response.text


def test_export_with_bad_filters_redirects_with_a_message(staff_client):
    response = staff_client.get(reverse(EXPORT_URL), {"nonsense__field": "1"})
    assert response.status_code == 302


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+1+1", "'+1+1"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tstart", "'\tstart"),
        ("Ada", "Ada"),
        ("a=b", "a=b"),
        (None, ""),
    ],
)
def test_csv_cells_never_start_a_formula(value, expected):
    assert csv_cell(value) == expected


def test_export_guards_against_formula_injection(staff_client):
    make_listed_subscriber(
        S.CONFIRMED,
        email="eve@example.com",
        first_name='=HYPERLINK("http://evil.example","x")',
        lawful_basis="@import from somewhere",
    )
    make_listed_subscriber(S.CONFIRMED, email="ann@example.com", first_name="-Ann")
    rows = {r["email"]: r for r in read_csv(staff_client.get(reverse(EXPORT_URL)))}
    assert rows["eve@example.com"]["first_name"] == (
        '\'=HYPERLINK("http://evil.example","x")'
    )
    assert rows["eve@example.com"]["lawful_basis"] == "'@import from somewhere"
    assert rows["ann@example.com"]["first_name"] == "'-Ann"


def test_export_action_for_selected_rows(staff_client):
    chosen = make_listed_subscriber(S.CONFIRMED, email="chosen@example.com")
    make_listed_subscriber(S.CONFIRMED, email="other@example.com")
    response = staff_client.post(
        reverse("admin:newsletter_subscriber_changelist"),
        {"action": "export_selected", "_selected_action": [chosen.pk]},
    )
    assert [r["email"] for r in read_csv(response)] == ["chosen@example.com"]


def test_export_reads_the_database_in_chunks(staff_client, monkeypatch):
    """The rows come from an iterator, so 100k subscribers never sit in memory."""
    from django.db.models.query import QuerySet

    chunks = []
    original = QuerySet.iterator

    def spy(self, chunk_size=None):
        chunks.append(chunk_size)
        return original(self, chunk_size=chunk_size)

    monkeypatch.setattr(QuerySet, "iterator", spy)
    make_listed_subscriber()
    response = staff_client.get(reverse(EXPORT_URL))
    assert chunks == []  # Nothing is read before the response starts streaming.
    assert len(read_csv(response)) == 1
    assert chunks == [2000]


def test_visitors_cannot_export(client):
    make_listed_subscriber()
    response = client.get(reverse(EXPORT_URL))
    assert response.status_code == 302
    assert reverse("admin:login") in response["Location"]


# Import -------------------------------------------------------------------------------


def csv_file(text: str | bytes, name: str = "list.csv") -> SimpleUploadedFile:
    data = text.encode() if isinstance(text, str) else text
    return SimpleUploadedFile(name, data, content_type="text/csv")


def post_import(client, text, *, basis=LawfulBasis.CONFIRM, evidence="", dry_run=True):
    data = {"file": csv_file(text), "basis": basis, "evidence": evidence}
    if dry_run:
        data["dry_run"] = "on"
    return client.post(reverse(IMPORT_URL), data)


GOOD = "email,first_name\nada@example.com,Ada\nBob@Example.COM,\n"


def test_import_page_loads_with_dry_run_ticked(staff_client):
    response = staff_client.get(reverse(IMPORT_URL))
    assert response.status_code == 200
    form = response.context["form"]
    assert form["dry_run"].value() is True
    assert 'name="dry_run" checked' in response.text or "checked" in response.text
    listing = staff_client.get(reverse("admin:newsletter_subscriber_changelist"))
    assert reverse(IMPORT_URL) in listing.text


def test_dry_run_reports_each_row_and_writes_nothing(staff_client, mailoutbox):
    make_listed_subscriber(S.CONFIRMED, email="known@example.com")
    response = post_import(
        staff_client,
        "email,first_name\n"
        "ada@example.com,Ada\n"
        "not-an-email,X\n"
        "ADA@example.com,Again\n"
        f"long@example.com,{'n' * 101}\n"
        "known@example.com,\n",
    )
    assert response.status_code == 200
    report = response.context["report"]
    assert report.dry_run
    outcomes = {row.line: row.outcome or row.error for row in report.rows}
    assert outcomes[2] == "added"
    assert "not a valid email address" in outcomes[3]
    assert "in the file twice" in outcomes[4]
    assert "longer than 100 characters" in outcomes[5]
    assert outcomes[6].startswith("already a subscriber")
    summary = response.context["summary"]
    assert (summary["total"], summary["added"], summary["existing"]) == (5, 1, 1)
    assert summary["errors"] == 3
    text = response.text
    assert "not-an-email" in text and "in the file twice" in text
    assert "Dry run report: nothing was changed" in text
    assert Subscriber.objects.count() == 1
    assert mailoutbox == []


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"name,first_name\nada@example.com,Ada\n", "including 'email'"),
        ("email\nad\xe9@example.com\n".encode("latin-1"), "not UTF-8"),
        (b"email\n", "no addresses"),
        (b"", "file is empty"),
    ],
)
def test_unreadable_files_are_refused_with_a_message(staff_client, content, message):
    response = post_import(staff_client, content)
    assert response.status_code == 200
    assert response.context["report"] is None
    assert message in " ".join(response.context["form"].errors["file"])
    assert not Subscriber.objects.exists()


def test_files_over_5_mb_are_refused(staff_client):
    big = "email\n" + "someone@example.com\n" * (5 * 1024 * 1024 // 20 + 10)
    response = post_import(staff_client, big)
    errors = str(response.context["form"].errors["file"])
    assert "the limit is 5 MB" in errors
    assert not Subscriber.objects.exists()


def test_consented_basis_needs_evidence(staff_client):
    response = post_import(staff_client, GOOD, basis=LawfulBasis.CONSENTED)
    assert "where and when" in str(response.context["form"].errors["evidence"])
    assert response.context["report"] is None


def test_a_real_run_needs_a_clean_dry_run_of_the_same_file_first(
    staff_client, mailoutbox
):
    response = post_import(staff_client, GOOD, dry_run=False)
    assert "dry run first" in str(response.context["form"].errors["dry_run"])
    assert not Subscriber.objects.exists()
    post_import(staff_client, GOOD)
    # A different file after the check is checked again, not imported.
    other = "email\neve@example.com\n"
    response = post_import(staff_client, other, dry_run=False)
    assert "dry run first" in str(response.context["form"].errors["dry_run"])
    assert not Subscriber.objects.exists()
    assert mailoutbox == []


def test_a_real_run_with_errors_writes_nothing(
    staff_client, mailoutbox, django_capture_on_commit_callbacks
):
    bad = "email\nada@example.com\nnot-an-email\n"
    # As if the file had passed a dry run (it cannot): the importer still refuses.
    session = staff_client.session
    session[IMPORT_SESSION_KEY] = hashlib.sha256(
        b"\0".join([bad.encode(), LawfulBasis.CONFIRM.encode(), b""])
    ).hexdigest()
    session.save()
    with django_capture_on_commit_callbacks(execute=True):
        response = post_import(staff_client, bad, dry_run=False)
    assert response.context["report"] is not None
    assert response.context["report"].dry_run is False
    assert "nothing was imported" in messages_of(response)[-1]
    assert "Nothing was imported" in response.text
    assert not Subscriber.objects.exists()
    assert mailoutbox == []


def test_a_clean_import_adds_pending_subscribers_and_asks_each_to_confirm(
    staff_client, mailoutbox, django_capture_on_commit_callbacks
):
    make_listed_subscriber(S.CONFIRMED, email="known@example.com", first_name="K")
    text = GOOD + "known@example.com,Changed\n"
    response = post_import(staff_client, text)
    assert response.context["checked"] is True
    assert response.context["form"]["dry_run"].value() is False
    assert "choose <strong>the same file</strong> again" in response.text
    assert Subscriber.objects.count() == 1
    with django_capture_on_commit_callbacks(execute=True):
        response = post_import(staff_client, text, dry_run=False)
    assert response.status_code == 200
    assert "Imported 2 address(es)" in messages_of(response)[-1]
    assert "Import done" in response.text
    added = Subscriber.objects.exclude(email="known@example.com").order_by("email")
    assert [(s.email, s.first_name) for s in added] == [
        ("Bob@example.com", ""),
        ("ada@example.com", "Ada"),
    ]
    for subscriber in added:
        assert subscriber.status == S.PENDING
        assert subscriber.consent_source == Subscriber.Source.IMPORT
        assert subscriber.confirmed_at is None
        assert subscriber.events.filter(kind=SubscriberEvent.Kind.IMPORTED).exists()
    assert sorted(m.to[0] for m in mailoutbox) == [
        "Bob@example.com",
        "ada@example.com",
    ]
    known = Subscriber.objects.get(email="known@example.com")
    assert (known.first_name, known.status) == ("K", S.CONFIRMED)
    # The check is used up: the same file cannot be imported twice by a refresh.
    response = post_import(staff_client, text, dry_run=False)
    assert "dry run first" in str(response.context["form"].errors["dry_run"])


def test_import_of_people_who_already_consented_confirms_them_without_email(
    staff_client, mailoutbox, django_capture_on_commit_callbacks
):
    evidence = "Sign-up form on old-site.example, export of 2026-03-03"
    post_import(staff_client, GOOD, basis=LawfulBasis.CONSENTED, evidence=evidence)
    with django_capture_on_commit_callbacks(execute=True):
        response = post_import(
            staff_client,
            GOOD,
            basis=LawfulBasis.CONSENTED,
            evidence=evidence,
            dry_run=False,
        )
    assert "as confirmed subscribers" in messages_of(response)[-1]
    subscribers = Subscriber.objects.all()
    assert subscribers.count() == 2
    for subscriber in subscribers:
        assert subscriber.status == S.CONFIRMED
        assert subscriber.confirmed_at is not None
        assert evidence in subscriber.lawful_basis
        assert "already gave consent" in subscriber.lawful_basis
        event = subscriber.events.get(kind=SubscriberEvent.Kind.IMPORTED)
        assert evidence in event.detail
    assert mailoutbox == []


def test_changing_the_basis_after_the_dry_run_needs_a_new_check(staff_client):
    post_import(staff_client, GOOD)
    response = post_import(
        staff_client,
        GOOD,
        basis=LawfulBasis.CONSENTED,
        evidence="Paper forms at the 2026 fair",
        dry_run=False,
    )
    assert "dry run first" in str(response.context["form"].errors["dry_run"])
    assert not Subscriber.objects.exists()


def test_non_staff_cannot_import(client):
    from tests.factories import make_user

    client.force_login(make_user())
    response = post_import(client, GOOD)
    assert response.status_code == 302
    assert not Subscriber.objects.exists()


@pytest.mark.django_db
def test_dry_run_of_a_large_file_takes_a_few_queries_not_one_per_row(
    django_assert_max_num_queries,
):
    from newsletter import services

    rows = [
        services.ImportRow(line=i + 2, email=f"new{i}@example.com", first_name="")
        for i in range(12_000)
    ]
    with django_assert_max_num_queries(3):
        report = services.import_subscribers(
            rows=rows, basis=LawfulBasis.CONFIRM, evidence="", dry_run=True
        )
    assert report.added == 12_000 and not report.errors
