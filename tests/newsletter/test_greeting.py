"""The issue email's greeting line: written by staff, personalised per reader."""

import email
import email.policy
import re

import pytest
from django.urls import reverse

from newsletter import emails
from newsletter.admin.forms import IssueAdminForm
from newsletter.models import Issue
from tests.factories import make_issue, make_listed_subscriber

pytestmark = pytest.mark.django_db


def parts(issue: Issue, *, first_name: str) -> tuple[str, str]:
    """(text, html) of the issue email as one reader gets it."""
    reader = make_listed_subscriber(first_name=first_name)
    message = emails.issue_message(
        rendered=emails.render_issue(issue), subscriber=reader
    )
    return message.body, message.alternatives[0][0]


def test_default_greeting_names_the_reader_in_both_parts():
    text, html = parts(make_issue(), first_name="Ada")
    assert text.startswith("Hi Ada,\n")
    assert ">Hi Ada,</p>" in html


def test_default_greeting_without_a_name_leaves_out_name_and_space():
    text, html = parts(make_issue(), first_name="")
    assert text.startswith("Hi,\n")
    assert ">Hi,</p>" in html
    assert "{first_name}" not in text + html
    assert "%%" not in text + html


def test_a_custom_greeting_is_used_once_instead_of_the_default():
    issue = make_issue(
        greeting="Dear {first_name}, welcome back!",
        body="<p>Dear reader, winter is here.</p>",
    )
    text, html = parts(issue, first_name="Ada")
    assert text.startswith("Dear Ada, welcome back!\n")
    assert ">Dear Ada, welcome back!</p>" in html
    assert "Hi" not in text.split("\n")[0]
    text, html = parts(issue, first_name="")
    assert text.startswith("Dear, welcome back!\n")


def test_the_name_may_start_the_greeting():
    text, _ = parts(make_issue(greeting="{first_name}, hello!"), first_name="Ada")
    assert text.startswith("Ada, hello!\n")


def test_an_empty_greeting_renders_no_greeting_paragraph():
    issue = make_issue(greeting="", body="<p>Hello friends, winter is here.</p>")
    text, html = parts(issue, first_name="Ada")
    assert text.startswith("Hello friends, winter is here.")
    assert "Ada" not in text and "Ada" not in html
    # The heading is followed directly by the body.
    assert re.search(r"</h1>\s*<p[^>]*>Hello friends", html)


def test_a_name_with_markup_is_escaped_in_html_and_plain_in_text():
    text, html = parts(make_issue(), first_name="Zoë <b>&")
    assert ">Hi Zoë &lt;b&gt;&amp;,</p>" in html
    assert "<b>&," not in html
    assert text.startswith("Hi Zoë <b>&,\n")


def test_greeting_is_escaped_in_html():
    _, html = parts(make_issue(greeting="Hi {first_name} & <friends>,"), first_name="")
    assert ">Hi &amp; &lt;friends&gt;,</p>" in html


def test_the_fast_payload_and_the_django_message_agree_on_the_greeting():
    issue = make_issue(greeting="Hello {first_name}!")
    rendered = emails.render_issue(issue)
    for name in ["Zoë <b>", ""]:
        reader = make_listed_subscriber(first_name=name)

        def parse(raw: bytes):
            return email.message_from_bytes(raw, policy=email.policy.default)

        fast = parse(emails.issue_payload(rendered=rendered, subscriber=reader))
        slow = parse(
            emails.issue_message(rendered=rendered, subscriber=reader)
            .message()
            .as_bytes(linesep="\r\n")
        )
        for kind in ("plain", "html"):
            fast_part = fast.get_body(preferencelist=(kind,)).get_content()
            slow_part = slow.get_body(preferencelist=(kind,)).get_content()
            assert fast_part.replace("\r\n", "\n") == slow_part.replace("\r\n", "\n")
        plain = fast.get_body(preferencelist=("plain",)).get_content()
        expected = "Hello Zoë <b>!" if name else "Hello!"
        assert plain.startswith(expected)


def test_the_test_email_uses_the_greeting_without_a_name():
    issue = make_issue(greeting="Dear {first_name},")
    message = emails.test_issue_message(issue=issue, to="editor@example.com")
    assert message.body.startswith("Dear,\n")
    assert ">Dear,</p>" in message.alternatives[0][0]


def form_data(**overrides) -> dict:
    return {
        "subject": "Winter",
        "slug": "winter",
        "preheader": "",
        "greeting": "Hi {first_name},",
        "body": "<p>Body.</p>",
    } | overrides


@pytest.mark.parametrize(
    ("greeting", "named"),
    [("Hi {name},", "{name}"), ("Hi {first_name} {last},", "{last}"), ("Hi }", "}")],
)
def test_a_greeting_with_an_unknown_placeholder_is_refused(greeting, named):
    form = IssueAdminForm(data=form_data(greeting=greeting))
    assert not form.is_valid()
    (error,) = form.errors["greeting"]
    assert "can only use {first_name}" in error
    assert named in error


def test_greeting_is_in_the_admin_form_and_saved(staff_client):
    response = staff_client.get(reverse("admin:newsletter_issue_add"))
    assert 'name="greeting"' in response.text
    assert 'value="Hi {first_name},"' in response.text
    data = form_data(greeting="  Hello {first_name}!  ") | {
        "issuearticle_set-TOTAL_FORMS": "0",
        "issuearticle_set-INITIAL_FORMS": "0",
    }
    response = staff_client.post(reverse("admin:newsletter_issue_add"), data)
    assert response.status_code == 302
    assert Issue.objects.get(slug="winter").greeting == "Hello {first_name}!"


def test_an_unknown_placeholder_posted_to_the_admin_saves_nothing(staff_client):
    data = form_data(greeting="Hi {name},") | {
        "issuearticle_set-TOTAL_FORMS": "0",
        "issuearticle_set-INITIAL_FORMS": "0",
    }
    response = staff_client.post(reverse("admin:newsletter_issue_add"), data)
    assert response.status_code == 200
    assert "can only use {first_name}" in response.text
    assert not Issue.objects.exists()
