"""In production posture the sender must be on a real domain (core/checks.py), and
Message-IDs use that domain."""

import pytest
from django.core import checks

from core.checks import check_sender
from newsletter import emails, selectors
from tests.factories import make_subscriber
from tests.skincare.test_settings import run_manage


@pytest.mark.parametrize(
    "sender",
    [
        "",
        "   ",
        None,
        "Skincare <news@localhost>",
        "news@localhost",
        "news@LOCALHOST.",
        "news@localhost.localdomain",
        "news@mailhost",
        "news@skincare.local",
        "news@site.localhost",
        "news@skincare.invalid",
        "news@skincare.test",
        "news@skincare.example",
        "news@skincare.internal",
        "news@skincare.home.arpa",
        "news@192.0.2.7",
        "news@skincare..com",
        "news@.com",
        "Skincare <news>",
        "not an address",
        "@skincare.com",
        "news@",
        "<<<>>>",
    ],
)
def test_production_posture_refuses_a_sender_without_a_real_domain(settings, sender):
    settings.DEBUG = False
    settings.DEFAULT_FROM_EMAIL = sender
    errors = check_sender()
    assert len(errors) == 1
    assert errors[0].level == checks.ERROR
    assert errors[0].id == "core.E001"
    assert "DJANGO_DEFAULT_FROM_EMAIL" in errors[0].hint


def test_a_missing_setting_is_an_error_too(settings):
    settings.DEBUG = False
    del settings.DEFAULT_FROM_EMAIL
    assert [e.id for e in check_sender()] == ["core.E001"]


@pytest.mark.parametrize(
    "sender",
    [
        "Skincare <news@skincare.com>",
        "news@mail.skincare.co.uk",
        "Skincare Team <News@Skincare-Site.org>",
        "news@skincare.com.",
    ],
)
def test_a_sender_on_a_real_domain_passes(settings, sender):
    settings.DEBUG = False
    settings.DEFAULT_FROM_EMAIL = sender
    assert check_sender() == []


def test_development_posture_accepts_the_localhost_default(settings):
    settings.DEBUG = True
    settings.DEFAULT_FROM_EMAIL = "Skincare <news@localhost>"
    assert check_sender() == []


def test_the_check_is_registered_and_says_which_variable_to_set():
    result = run_manage("check", DJANGO_SECRET_KEY="x" * 50)
    assert result.returncode != 0
    assert "core.E001" in result.stderr
    assert "DEFAULT_FROM_EMAIL is not set" not in result.stderr  # it has a default
    assert "news@localhost" in result.stderr
    assert "Set DJANGO_DEFAULT_FROM_EMAIL" in result.stderr

    result = run_manage(
        "check",
        DJANGO_SECRET_KEY="x" * 50,
        DJANGO_DEFAULT_FROM_EMAIL="Skincare <news@skincare.com>",
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.django_db
def test_confirmation_and_data_export_message_ids_end_with_the_from_domain(settings):
    settings.DEFAULT_FROM_EMAIL = "Skincare <news@mail.skincare.com>"
    subscriber = make_subscriber(email="ada@example.com")
    messages = [
        emails.confirmation_message(subscriber=subscriber),
        emails.data_export_message(
            subscriber=subscriber, data=selectors.subscriber_data(subscriber)
        ),
        emails.data_delete_message(subscriber=subscriber),
    ]
    for message in messages:
        message_id = message.message()["Message-ID"]
        assert message_id.startswith("<")
        assert message_id.endswith("@mail.skincare.com>"), message_id
        assert message.from_email == "Skincare <news@mail.skincare.com>"
