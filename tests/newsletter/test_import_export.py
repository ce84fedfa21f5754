"""CSV export and import of subscribers in the admin."""

import csv
import io

import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import StreamingHttpResponse
from django.urls import reverse

from core.spreadsheets import csv_cell
from newsletter.models import (
    LawfulBasis,
    Subscriber,
    SubscriberEvent,
    SubscriberImport,
)
from newsletter.subscribers import imports, services
from newsletter.web.forms import SubscribeForm
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


def test_export_counts_nothing_and_reads_only_the_rows_it_streams(
    staff_client, django_assert_max_num_queries
):
    for n in range(3):
        make_listed_subscriber(S.CONFIRMED, email=f"r{n}@example.com")
    # Session, user, second factor, the rows: a count would read every subscriber.
    with django_assert_max_num_queries(5) as queries:
        rows = read_csv(staff_client.get(reverse(EXPORT_URL), {"q": "r"}))
    assert len(rows) == 3
    assert not [q for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]


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

IS = SubscriberImport.Status
K = SubscriberEvent.Kind
GOOD = "email,first_name\nada@example.com,Ada\nBob@Example.COM,\n"


def csv_file(text: str | bytes, name: str = "list.csv") -> SimpleUploadedFile:
    data = text.encode() if isinstance(text, str) else text
    return SimpleUploadedFile(name, data, content_type="text/csv")


def upload(client, text, *, basis=LawfulBasis.CONFIRM, evidence=""):
    data = {"file": csv_file(text), "basis": basis, "evidence": evidence}
    return client.post(reverse(IMPORT_URL), data)


def url(name: str, subscriber_import: SubscriberImport) -> str:
    return reverse(
        f"admin:newsletter_subscriber_import_{name}", args=[subscriber_import.pk]
    )


@pytest.fixture
def checked(staff_client, django_capture_on_commit_callbacks):
    """Upload a file and let the (immediate) check task run; the import, reloaded."""

    def check(text, **options) -> SubscriberImport:
        with django_capture_on_commit_callbacks(execute=True):
            response = upload(staff_client, text, **options)
        assert response.status_code == 302, response.context["form"].errors
        subscriber_import = SubscriberImport.objects.latest("pk")
        assert response["Location"] == url("status", subscriber_import)
        return subscriber_import

    return check


@pytest.fixture
def start(staff_client, django_capture_on_commit_callbacks):
    """Press "Import N addresses" and let the (immediate) tasks run."""

    def press(subscriber_import, client=None):
        with django_capture_on_commit_callbacks(execute=True):
            response = (client or staff_client).post(url("start", subscriber_import))
        subscriber_import.refresh_from_db()
        return response

    return press


def test_import_page_shows_the_form_and_the_recent_imports(staff_client, staff):
    SubscriberImport.objects.create(
        file_name="old-list.csv", data="email\n", basis="confirm", created_by=staff
    )
    response = staff_client.get(reverse(IMPORT_URL))
    assert response.status_code == 200
    assert set(response.context["form"].fields) == {"file", "basis", "evidence"}
    assert "old-list.csv" in response.text
    assert "Upload and check the file" in response.text
    assert "listed with its line and the reason, and left out" in response.text
    assert "in more than 1,000 rows, is refused whole" in response.text
    listing = staff_client.get(reverse("admin:newsletter_subscriber_changelist"))
    assert reverse(IMPORT_URL) in listing.text


def test_the_check_reports_each_refused_row_with_its_line_and_writes_nothing(
    staff_client, checked, mailoutbox
):
    make_listed_subscriber(S.CONFIRMED, email="known@example.com")
    subscriber_import = checked(
        "email,first_name\n"
        "ada@example.com,Ada\n"
        "not-an-email,X\n"
        "ADA@example.com,Again\n"
        f"long@example.com,{'n' * 101}\n"
        "known@example.com,\n"
    )
    assert subscriber_import.status == IS.CHECKED
    assert (
        subscriber_import.total_rows,
        subscriber_import.rows_done,
        subscriber_import.added,
        subscriber_import.existing,
        subscriber_import.error_count,
    ) == (5, 5, 1, 1, 3)
    report = subscriber_import.report
    # Errors first, with their line numbers; then the rows in order.
    assert [row["line"] for row in report] == [3, 4, 5, 2, 6]
    outcomes = {row["line"]: row["outcome"] or row["error"] for row in report}
    assert outcomes[2] == "added"
    assert "not a valid email address" in outcomes[3]
    assert outcomes[4] == "This address is in the file twice (first on line 2)."
    assert "at most 100 characters long" in outcomes[5]
    assert outcomes[6].startswith("already a subscriber")
    page = staff_client.get(url("status", subscriber_import)).text
    assert "not-an-email" in page and "in the file twice" in page
    assert "3 row(s) have errors" in page and "they will be left out" in page
    assert "would be added" in page
    # The clean new row can be imported; nothing is written before the button.
    assert 'value="Import 1 address"' in page
    assert Subscriber.objects.count() == 1
    assert mailoutbox == []


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"name,first_name\nada@example.com,Ada\n", "including 'email'"),
        ("email\nad\xe9@example.com\n".encode("latin-1"), "not UTF-8"),
        (b"email\n", "no addresses"),
        (b"", "file is empty"),
        (b'email\n"' + b"a" * 140_000 + b"\n", "could not be read as CSV near line"),
    ],
)
def test_unreadable_files_are_refused_with_a_message(staff_client, content, message):
    response = upload(staff_client, content)
    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors["file"])
    assert not SubscriberImport.objects.exists()
    assert not Subscriber.objects.exists()


def test_files_over_the_size_limit_are_refused(staff_client, settings):
    assert settings.MAX_IMPORT_BYTES == 20 * 1024 * 1024
    big = "email\n" + "someone@example.com\n" * (settings.MAX_IMPORT_BYTES // 20 + 10)
    response = upload(staff_client, big)
    assert "the limit is 20 MB" in str(response.context["form"].errors["file"])
    assert not SubscriberImport.objects.exists()


def test_files_over_the_row_limit_are_refused(staff_client, monkeypatch):
    assert imports.MAX_IMPORT_ROWS >= 100_000
    monkeypatch.setattr(imports, "MAX_IMPORT_ROWS", 2)
    response = upload(staff_client, "email\na@example.com\nb@example.com\nc@x.com\n")
    assert "At most 2 rows per file" in str(response.context["form"].errors["file"])
    assert not SubscriberImport.objects.exists()


def test_consented_basis_needs_evidence(staff_client):
    response = upload(staff_client, GOOD, basis=LawfulBasis.CONSENTED)
    assert "where and when" in str(response.context["form"].errors["evidence"])
    assert not SubscriberImport.objects.exists()


def test_a_clean_import_adds_pending_subscribers_and_asks_each_to_confirm_once(
    staff_client, checked, start, mailoutbox
):
    make_listed_subscriber(S.CONFIRMED, email="known@example.com", first_name="K")
    subscriber_import = checked(GOOD + "known@example.com,Changed\n")
    assert subscriber_import.status == IS.CHECKED
    assert (subscriber_import.added, subscriber_import.existing) == (2, 1)
    page = staff_client.get(url("status", subscriber_import)).text
    assert "Import 2 addresses" in page and url("start", subscriber_import) in page
    assert Subscriber.objects.count() == 1  # Nothing changes before the button.

    response = start(subscriber_import)
    assert response.status_code == 302
    assert "Importing 2 address(es)" in messages_of(response)[-1]
    assert subscriber_import.status == IS.DONE
    assert subscriber_import.started_at and subscriber_import.finished_at
    added = Subscriber.objects.exclude(email="known@example.com").order_by("email")
    assert [(s.email, s.first_name) for s in added] == [
        ("Bob@example.com", ""),
        ("ada@example.com", "Ada"),
    ]
    for subscriber in added:
        assert subscriber.status == S.PENDING
        assert subscriber.consent_source == Subscriber.Source.IMPORT
        assert subscriber.consent_version == services.CONSENT_VERSION
        assert subscriber.confirmed_at is None
        assert subscriber.imported_from == subscriber_import
        kinds = list(subscriber.events.values_list("kind", flat=True))
        assert kinds == [K.IMPORTED, K.CONFIRMATION_SENT]
    assert sorted(m.to[0] for m in mailoutbox) == [
        "Bob@example.com",
        "ada@example.com",
    ]
    known = Subscriber.objects.get(email="known@example.com")
    assert (known.first_name, known.status, known.imported_from) == (
        "K",
        S.CONFIRMED,
        None,
    )
    page = staff_client.get(url("status", subscriber_import)).text
    assert "Imported 2 address(es)" in page
    # A second press (or a refresh of the POST) imports and sends nothing more.
    response = start(subscriber_import)
    assert "cannot be started" in messages_of(response)[-1]
    assert Subscriber.objects.count() == 3
    assert len(mailoutbox) == 2


def test_import_of_people_who_already_consented_confirms_them_without_email(
    checked, start, mailoutbox
):
    evidence = "Sign-up form on old-site.example, export of 2026-03-03"
    subscriber_import = checked(GOOD, basis=LawfulBasis.CONSENTED, evidence=evidence)
    start(subscriber_import)
    assert subscriber_import.status == IS.DONE
    subscribers = Subscriber.objects.all()
    assert subscribers.count() == 2
    for subscriber in subscribers:
        assert subscriber.status == S.CONFIRMED
        assert subscriber.confirmed_at is not None
        assert subscriber.consent_version == "import"
        assert evidence in subscriber.lawful_basis
        assert "already gave consent" in subscriber.lawful_basis
        event = subscriber.events.get(kind=K.IMPORTED)
        assert evidence in event.detail
        assert not subscriber.events.filter(kind=K.CONFIRMATION_SENT).exists()
    assert mailoutbox == []


# Names come in by the import as by the sign-up form, under the same rules.
BAD_NAMES = {
    "line break": '"Ada\nP.S. Reply with your password"',
    "markup": "<b>Ada</b>",
    "web address": "Win at bit.ly",
    "scheme": "Visit https://evil.example",
    "bidi override": "Ada\u202egnp.exe",
    "bidi isolate": "\u2067Ada",
    "arabic letter mark": "Ada\u061c",
}


def test_rows_with_refused_names_are_reported_and_the_rest_go_in(
    staff_client, checked, start, mailoutbox
):
    lines = ["email,first_name", "first@example.com,Zoë"]
    for n, name in enumerate(BAD_NAMES.values()):
        lines.append(f"bad{n}@example.com,{name}")
    lines.append("last@example.com,Bob")
    subscriber_import = checked("\n".join(lines) + "\n")
    assert subscriber_import.status == IS.CHECKED
    assert (subscriber_import.added, subscriber_import.error_count) == (
        2,
        len(BAD_NAMES),
    )
    errors = {row["email"]: row for row in subscriber_import.report if row["error"]}
    assert set(errors) == {f"bad{n}@example.com" for n in range(len(BAD_NAMES))}
    # Physical lines of the file: the quoted line break makes row 2 two lines long.
    assert errors["bad0@example.com"]["line"] == 3
    assert errors["bad1@example.com"]["line"] == 5
    assert "line breaks" in errors["bad0@example.com"]["error"]
    assert "markup" in errors["bad1@example.com"]["error"]
    for n in (2, 3):
        assert "web address" in errors[f"bad{n}@example.com"]["error"]
    for n in (4, 5, 6):
        assert "change the direction of text" in errors[f"bad{n}@example.com"]["error"]
    assert "U+202E" in errors["bad4@example.com"]["error"]
    last = next(r for r in subscriber_import.report if r["email"] == "last@example.com")
    assert last["line"] == len(lines) + 1

    start(subscriber_import)
    assert subscriber_import.status == IS.DONE
    assert (subscriber_import.added, subscriber_import.error_count) == (
        2,
        len(BAD_NAMES),
    )
    assert sorted(Subscriber.objects.values_list("email", "first_name")) == [
        ("first@example.com", "Zoë"),
        ("last@example.com", "Bob"),
    ]
    assert sorted(m.to[0] for m in mailoutbox) == [
        "first@example.com",
        "last@example.com",
    ]
    page = staff_client.get(url("status", subscriber_import)).text
    assert f"{len(BAD_NAMES)} row(s) with errors were left out" in page
    assert "bad4@example.com" in page and "U+202E" in page


@pytest.mark.parametrize("name", BAD_NAMES.values(), ids=BAD_NAMES.keys())
def test_the_import_refuses_a_name_for_the_reason_the_sign_up_form_gives(name):
    [row] = imports.read_import_csv(f"email,first_name\nada@example.com,{name}\n")
    imports.check_rows([row])
    form = SubscribeForm(
        data={"email": "ada@example.com", "first_name": row.first_name}
    )
    form.is_valid()
    assert row.error
    assert form.errors["first_name"] == [
        f"{row.error} Enter just your first name, or leave it empty."
    ]


def test_a_refused_row_does_not_keep_a_later_clean_row_of_its_address_out(checked):
    subscriber_import = checked(
        "email,first_name\nada@example.com,<b>Ada</b>\nADA@example.com,Ada\n"
    )
    assert (subscriber_import.added, subscriber_import.error_count) == (1, 1)
    outcomes = {row["line"]: row["outcome"] for row in subscriber_import.report}
    assert outcomes == {2: "", 3: "added"}


def test_a_file_of_errors_only_can_never_be_imported(
    staff_client, checked, start, mailoutbox
):
    subscriber_import = checked(
        "email,first_name\nnot-an-email,\nada@example.com,<b>\n"
    )
    assert subscriber_import.status == IS.REFUSED
    assert subscriber_import.error.startswith("Every row has an error")
    page = staff_client.get(url("status", subscriber_import)).text
    assert "Every row has an error: nothing can be imported" in page
    response = start(subscriber_import)  # A crafted POST: there is no button.
    assert "cannot be started" in messages_of(response)[-1]
    assert subscriber_import.status == IS.REFUSED
    assert not Subscriber.objects.exists()
    assert mailoutbox == []


def test_a_file_with_more_errors_than_can_be_listed_is_refused_whole(
    staff_client, checked, start, monkeypatch
):
    """Every row left out of an import is listed: with more errors than the
    report holds, nothing goes in."""
    monkeypatch.setattr(imports, "REPORT_ROWS", 2)
    subscriber_import = checked(
        "email\nada@example.com\nbad1\nbad2\nbad3\nbob@example.com\n"
    )
    assert subscriber_import.status == IS.REFUSED
    assert "3 rows have errors, more than can be listed" in subscriber_import.error
    start(subscriber_import)
    assert subscriber_import.status == IS.REFUSED
    assert not Subscriber.objects.exists()


def test_a_file_of_known_addresses_only_has_nothing_to_import(checked, start):
    make_listed_subscriber(email="ada@example.com")
    subscriber_import = checked("email\nADA@example.com\n")
    assert (subscriber_import.status, subscriber_import.added) == (IS.CHECKED, 0)
    response = start(subscriber_import)
    assert "no new addresses" in messages_of(response)[-1]
    assert subscriber_import.status == IS.CHECKED
