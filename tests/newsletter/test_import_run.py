"""Running subscriber imports: progress, tasks run again, races and failures,
workers, large files, and who may import."""

import pytest
from django.db import IntegrityError
from django.urls import reverse
from django_tasks_db.models import DBTaskResult

from newsletter import tasks
from newsletter.models import (
    LawfulBasis,
    Subscriber,
    SubscriberEvent,
    SubscriberImport,
)
from newsletter.subscribers import imports
from tests.factories import make_listed_subscriber, make_staff, make_user

# Fixtures come from test_import_export.py: a test taking one as an argument redefines
# its name.
# ruff: noqa: F811
from tests.newsletter.test_import_export import (  # noqa: F401
    GOOD,
    IMPORT_URL,
    IS,
    K,
    S,
    checked,
    start,
    upload,
    url,
)
from tests.newsletter.test_worker import start_worker, worker_env
from tests.smtp_sink import SinkHandler, SMTPSink

pytestmark = pytest.mark.django_db


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
    checked,
    start,
    mailoutbox,
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
    checked,
    start,
    mailoutbox,
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
    staff_client,
    checked,
    start,
    monkeypatch,
    mailoutbox,
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
    checked,
    start,
    mailoutbox,
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
    checked,
    start,
    monkeypatch,
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
        # check, import, and one task for all the confirmation emails (besides
        # the welcome series' run, which each worker keeps queued)
        assert (
            DBTaskResult.objects.exclude(
                task_path=tasks.send_welcome_steps.module_path
            ).count()
            == 3
        )
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
    client,
    start,
    django_capture_on_commit_callbacks,
    mailoutbox,
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
