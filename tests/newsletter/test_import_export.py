"""CSV export and import of subscribers in the admin."""

import csv
import io

import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError
from django.http import StreamingHttpResponse
from django.urls import reverse
from django_tasks_db.models import DBTaskResult

from newsletter import imports, services, tasks
from newsletter.admin.csv_export import csv_cell
from newsletter.forms import SubscribeForm
from newsletter.models import (
    LawfulBasis,
    Subscriber,
    SubscriberEvent,
    SubscriberImport,
)
from tests.factories import make_listed_subscriber, make_staff, make_user
from tests.newsletter.test_worker import start_worker, worker_env
from tests.smtp_sink import SinkHandler, SMTPSink

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


def test_check_progress_is_saved_as_it_goes(staff, monkeypatch):
    subscriber_import = SubscriberImport.objects.create(
        file_name="l.csv",
        data="email\n" + "".join(f"p{n}@example.com\n" for n in range(5)),
        basis=LawfulBasis.CONFIRM,
        created_by=staff,
    )
    monkeypatch.setattr(imports, "CHECK_CHUNK", 2)
    seen = []
    lookup = imports.existing_addresses

    def spy(lowered):
        found = SubscriberImport.objects.get(pk=subscriber_import.pk)
        seen.append((found.rows_done, found.total_rows, found.status))
        return lookup(lowered)

    monkeypatch.setattr(imports, "existing_addresses", spy)
    assert tasks.check_subscriber_import.call(subscriber_import.pk) == IS.CHECKED
    assert seen == [(0, 5, IS.CHECKING), (2, 5, IS.CHECKING), (4, 5, IS.CHECKING)]
    subscriber_import.refresh_from_db()
    assert (subscriber_import.rows_done, subscriber_import.added) == (5, 5)


def test_the_page_and_its_json_show_progress_while_checking(staff_client, staff):
    subscriber_import = SubscriberImport.objects.create(
        file_name="big.csv",
        data="email\n",
        basis=LawfulBasis.CONFIRM,
        created_by=staff,
        total_rows=10_000,
        rows_done=4_000,
    )
    data = staff_client.get(url("progress", subscriber_import)).json()
    assert data["status"] == IS.CHECKING
    assert (data["rows_done"], data["total_rows"], data["poll"]) == (4000, 10000, True)
    page = staff_client.get(url("status", subscriber_import)).text
    assert "4000</span> of <span" in page
    assert 'data-poll="1"' in page
    assert 'http-equiv="refresh"' in page  # Without JavaScript.
    assert "newsletter-import-progress.js" in page
    SubscriberImport.objects.filter(pk=subscriber_import.pk).update(
        status=IS.REFUSED, rows_done=10_000, error_count=3
    )
    data = staff_client.get(url("progress", subscriber_import)).json()
    assert (data["status"], data["poll"], data["error_count"]) == (IS.REFUSED, False, 3)
    assert 'data-poll="0"' in staff_client.get(url("status", subscriber_import)).text


def test_running_the_tasks_again_writes_and_sends_nothing_twice(
    checked, start, mailoutbox
):
    subscriber_import = checked(GOOD)
    start(subscriber_import)
    assert subscriber_import.status == IS.DONE and len(mailoutbox) == 2
    assert tasks.run_subscriber_import.call(subscriber_import.pk) is False
    assert tasks.check_subscriber_import.call(subscriber_import.pk) == IS.DONE
    assert tasks.send_import_confirmations.call(subscriber_import.pk) == 0
    assert Subscriber.objects.count() == 2
    assert SubscriberEvent.objects.filter(kind=K.IMPORTED).count() == 2
    assert len(mailoutbox) == 2


def test_confirmations_go_only_to_those_still_waiting_for_one(
    checked, start, mailoutbox
):
    subscriber_import = checked(
        "email\n" + "".join(f"w{n}@example.com\n" for n in range(4))
    )
    start(subscriber_import)
    assert len(mailoutbox) == 4
    mailoutbox.clear()
    # As if the worker had died after two emails: two have no record of theirs.
    SubscriberEvent.objects.filter(
        kind=K.CONFIRMATION_SENT,
        subscriber__email__in=["w0@example.com", "w1@example.com"],
    ).delete()
    # w1 confirmed meanwhile (by another route): it needs no email.
    Subscriber.objects.filter(email="w1@example.com").update(
        status=S.CONFIRMED, confirmed_at=subscriber_import.finished_at
    )
    assert tasks.send_import_confirmations.call(subscriber_import.pk) == 1
    assert [m.to[0] for m in mailoutbox] == ["w0@example.com"]
    assert tasks.send_import_confirmations.call(subscriber_import.pk) == 0


def test_an_address_added_by_someone_else_during_the_import_fails_it_cleanly(
    staff_client, checked, start, monkeypatch, mailoutbox
):
    subscriber_import = checked(GOOD)
    # Another import commits ada@ after our last look at the list: only the unique
    # constraint on lower(email) can catch it.
    make_listed_subscriber(email="ADA@example.com")
    monkeypatch.setattr(imports, "existing_addresses", lambda lowered: set())
    response = start(subscriber_import)
    assert response.status_code == 302
    assert subscriber_import.status == IS.FAILED
    assert "added to the list by someone else" in subscriber_import.error
    assert list(Subscriber.objects.values_list("email", flat=True)) == [
        "ADA@example.com"
    ]
    assert not SubscriberEvent.objects.filter(kind=K.IMPORTED).exists()
    assert mailoutbox == []
    page = staff_client.get(url("status", subscriber_import)).text
    assert "added to the list by someone else" in page


def test_two_imports_of_the_same_address_the_second_leaves_it_unchanged(
    checked, start, mailoutbox
):
    first = checked("email\nada@example.com\n")
    second = checked("email\nAda@Example.com\nbob@example.com\n")
    assert (first.added, second.added) == (1, 2)
    start(first)
    start(second)
    assert (first.status, second.status) == (IS.DONE, IS.DONE)
    assert (second.added, second.existing) == (1, 1)
    assert sorted(Subscriber.objects.values_list("email", flat=True)) == [
        "ada@example.com",
        "bob@example.com",
    ]
    assert sorted(m.to[0] for m in mailoutbox) == ["ada@example.com", "bob@example.com"]


def test_a_failure_during_the_import_saves_nothing(checked, start, monkeypatch):
    subscriber_import = checked(GOOD)
    insert = imports.insert_rows

    def broken(model, **kwargs):
        if model is SubscriberEvent:  # After the subscribers went in.
            raise IntegrityError("simulated: the disk is full")
        insert(model, **kwargs)

    monkeypatch.setattr(imports, "insert_rows", broken)
    start(subscriber_import)
    assert subscriber_import.status == IS.FAILED
    assert not Subscriber.objects.exists()


def test_an_unexpected_error_fails_the_import_and_saves_nothing(
    checked, start, monkeypatch
):
    subscriber_import = checked(GOOD)

    def broken(rows):
        raise RuntimeError("boom")

    monkeypatch.setattr(imports, "report_rows", broken)
    start(subscriber_import)
    assert subscriber_import.status == IS.FAILED
    assert "RuntimeError" in subscriber_import.error
    assert not Subscriber.objects.exists()
    assert not SubscriberEvent.objects.exists()


def run_worker(env: dict) -> None:
    """A real `manage.py db_worker`, until the queue is empty."""
    worker = start_worker(env)
    assert worker.wait(timeout=120) == 0, worker.stderr.read().decode()


@pytest.mark.django_db(transaction=True)
def test_with_the_database_backend_a_worker_checks_imports_and_sends(
    staff_client, database_tasks
):
    with SMTPSink(SinkHandler()) as sink:
        env = worker_env(sink.port)
        assert upload(staff_client, GOOD).status_code == 302
        subscriber_import = SubscriberImport.objects.get()
        assert subscriber_import.status == IS.CHECKING  # Waiting for a worker.
        assert DBTaskResult.objects.count() == 1
        page = staff_client.get(url("status", subscriber_import)).text
        assert 'data-poll="1"' in page
        run_worker(env)
        subscriber_import.refresh_from_db()
        assert subscriber_import.status == IS.CHECKED

        staff_client.post(url("start", subscriber_import))
        subscriber_import.refresh_from_db()
        assert subscriber_import.status == IS.IMPORTING
        assert not Subscriber.objects.exists()
        run_worker(env)
        subscriber_import.refresh_from_db()
        assert subscriber_import.status == IS.DONE
        assert Subscriber.objects.count() == 2
        # check, import, and one task for all the confirmation emails
        assert DBTaskResult.objects.count() == 3
        assert sorted(sink.handler.recipients()) == [
            "Bob@example.com",
            "ada@example.com",
        ]


def test_checking_a_large_file_takes_a_few_queries_not_one_per_row(
    django_assert_max_num_queries,
):
    rows = [
        imports.ImportRow(line=i + 2, email=f"new{i}@example.com", first_name="")
        for i in range(12_000)
    ]
    with django_assert_max_num_queries(3):
        result = imports.check_rows(rows)
    assert (result.added, result.errors) == (12_000, 0)


def test_importing_a_large_file_writes_in_batches(
    staff, django_assert_max_num_queries, monkeypatch
):
    subscriber_import = SubscriberImport.objects.create(
        file_name="l.csv",
        data="email\n" + "".join(f"b{n}@example.com\n" for n in range(3000)),
        basis=LawfulBasis.CONSENTED,
        evidence="Paper forms",
        created_by=staff,
        status=IS.IMPORTING,
    )
    # A subscriber and its event each, in a statement per batch of rows.
    monkeypatch.setattr(imports, "WRITE_BATCH", 1000)
    with django_assert_max_num_queries(15):
        assert imports.run_import(import_id=subscriber_import.pk)
    assert Subscriber.objects.filter(imported_from=subscriber_import).count() == 3000
    assert SubscriberEvent.objects.filter(kind=K.IMPORTED).count() == 3000
    one = Subscriber.objects.get(email="b7@example.com")
    assert one.status == S.CONFIRMED
    assert one.created_at == one.updated_at == one.consent_at == one.confirmed_at
    assert (one.consent_ip, one.left_at, one.left_how) == (None, None, "")
    assert one.events.get().detail.endswith("Paper forms")


# Who may import -----------------------------------------------------------------------


def staff_with(*codenames: str, username: str):
    from django.contrib.auth.models import Permission

    user = make_user(username=username)
    user.is_staff = True
    user.save()
    user.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label="newsletter", codename__in=codenames
        )
    )
    return user


def import_urls(subscriber_import) -> tuple[list[str], list[str]]:
    gets = [
        reverse(IMPORT_URL),
        url("status", subscriber_import),
        url("progress", subscriber_import),
    ]
    posts = [reverse(IMPORT_URL), url("start", subscriber_import)]
    return gets, posts


def test_staff_without_the_add_permission_can_do_nothing_with_imports(client, checked):
    subscriber_import = checked(GOOD)
    client.force_login(staff_with("view_subscriber", username="viewer"))
    gets, _ = import_urls(subscriber_import)
    for address in gets:
        assert client.get(address).status_code == 403, address
    assert client.post(url("start", subscriber_import)).status_code == 403
    assert upload(client, GOOD).status_code == 403
    subscriber_import.refresh_from_db()
    assert subscriber_import.status == IS.CHECKED
    assert SubscriberImport.objects.count() == 1
    assert not Subscriber.objects.exists()


def test_visitors_and_non_staff_reach_no_import_page(client, checked):
    subscriber_import = checked(GOOD)
    gets, posts = import_urls(subscriber_import)
    client.logout()  # `checked` uploaded as staff with this client.
    for user in [None, make_user()]:
        if user:
            client.force_login(user)
        for address in gets:
            response = client.get(address)
            assert response.status_code == 302, address
            assert reverse("admin:login") in response["Location"]
        for address in posts:
            assert client.post(address).status_code == 302, address
    subscriber_import.refresh_from_db()
    assert subscriber_import.status == IS.CHECKED
    assert not Subscriber.objects.exists()


def test_staff_with_the_add_permission_import_their_own_files_only(
    client, start, django_capture_on_commit_callbacks, mailoutbox
):
    editor = staff_with("add_subscriber", "view_subscriber", username="importer")
    other = staff_with("add_subscriber", "view_subscriber", username="other")
    client.force_login(editor)
    with django_capture_on_commit_callbacks(execute=True):
        assert upload(client, GOOD).status_code == 302
    mine = SubscriberImport.objects.get()
    assert (mine.created_by, mine.status) == (editor, IS.CHECKED)

    client.force_login(other)
    for address in import_urls(mine)[0][1:]:
        assert client.get(address).status_code == 404, address
    assert "list.csv" not in client.get(reverse(IMPORT_URL)).text
    assert start(mine, client=client).status_code == 404
    assert mine.status == IS.CHECKED

    # A superuser may follow anyone's import, but not import a file they did not
    # upload (the uploader vouched for its basis and evidence).
    client.force_login(make_staff(username="boss"))
    page = client.get(url("status", mine)).text
    assert "Only importer can import this file" in page
    assert url("start", mine) not in page
    assert start(mine, client=client).status_code == 403
    assert mine.status == IS.CHECKED and not Subscriber.objects.exists()

    client.force_login(editor)
    start(mine, client=client)
    assert mine.status == IS.DONE
    assert Subscriber.objects.count() == 2 and len(mailoutbox) == 2


def test_the_import_urls_refuse_the_wrong_method(staff_client, checked):
    subscriber_import = checked(GOOD)
    assert staff_client.get(url("start", subscriber_import)).status_code == 405
    assert staff_client.post(url("progress", subscriber_import)).status_code == 405
