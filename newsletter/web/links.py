"""The pages a subscriber reaches through a personal link: confirm, preferences,
unsubscribe, data.

Rules these pages keep:

- A GET never changes anything: mail scanners open every link in an email. Each
  change is a POST from a button on the page the link opens.
- They are never cached or indexed.
- Unsubscribing takes one POST without a CSRF token (RFC 8058 one-click, sent by
  mail providers); the signed token in the address is what authorises it.
"""

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from newsletter.delivery import bounces
from newsletter.models import Subscriber
from newsletter.subscribers import services, subscriptions
from newsletter.subscribers.tokens import (
    Purpose,
    TokenExpired,
    TokenInvalid,
    issue_of,
    make_token,
    read_token,
)
from newsletter.web import ratelimit
from newsletter.web.forms import PreferencesForm
from newsletter.web.signup import SIGNUP_FLOW


class TokenView(View):
    """Reads the subscriber from the link's token; invalid links get a 404 page."""

    purpose: Purpose
    allow_expired = False
    http_method_names = ["get", "post", "head", "options"]

    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        self.expired = False
        try:
            self.subscriber = read_token(kwargs["token"], purpose=self.purpose)
        except TokenExpired as exc:
            self.subscriber = exc.subscriber
            self.expired = True
        except TokenInvalid:
            self.subscriber = None
        if self.subscriber is None or (self.expired and not self.allow_expired):
            response = self.render("newsletter/link_invalid.html", status=404)
        else:
            response = super().dispatch(request, *args, **kwargs)
        return private(response)

    def render(self, template: str, status: int = 200, **context) -> HttpResponse:
        context.setdefault("subscriber", self.subscriber)
        context.setdefault("token", self.kwargs["token"])
        context.setdefault("max_age_days", settings.NEWSLETTER_CONFIRM_MAX_AGE_DAYS)
        context.update(SIGNUP_FLOW)
        return render(self.request, template, context, status=status)


def private(response: HttpResponse) -> HttpResponse:
    """A personal page: never stored by a browser or proxy, never indexed."""
    add_never_cache_headers(response)
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


class ConfirmView(TokenView):
    """GET shows a button (mail scanners open links); its POST confirms."""

    purpose = Purpose.CONFIRM
    allow_expired = True

    def get(self, request: HttpRequest, token: str) -> HttpResponse:
        status = self.subscriber.status
        if status == Subscriber.Status.CONFIRMED:
            return self.render("newsletter/confirmed.html", already=True)
        if self.expired:
            return self.render("newsletter/confirm_expired.html")
        if status != Subscriber.Status.PENDING:
            return self.render("newsletter/confirm_ended.html")
        return self.render("newsletter/confirm.html")

    def post(self, request: HttpRequest, token: str) -> HttpResponse:
        if self.subscriber.status == Subscriber.Status.CONFIRMED:
            return self.render("newsletter/confirmed.html", already=True)
        if self.expired:
            return self.render("newsletter/confirm_expired.html")
        ip = ratelimit.client_ip(request)
        if services.confirm_subscription(subscriber=self.subscriber, ip=ip):
            return self.render("newsletter/confirmed.html", already=False)
        return self.render("newsletter/confirm_ended.html")


class ResendConfirmationView(TokenView):
    """From the expired-link page: send a fresh confirmation email."""

    purpose = Purpose.CONFIRM
    allow_expired = True

    def get(self, request: HttpRequest, token: str) -> HttpResponse:
        return redirect("newsletter:confirm", token=token)

    def post(self, request: HttpRequest, token: str) -> HttpResponse:
        status = self.subscriber.status
        if status == Subscriber.Status.CONFIRMED:
            return self.render("newsletter/confirmed.html", already=True)
        if status != Subscriber.Status.PENDING:
            return self.render("newsletter/confirm_ended.html")
        if not self.expired:
            return redirect("newsletter:confirm", token=token)
        ip = ratelimit.client_ip(request)
        if services.request_confirmation(subscriber=self.subscriber, ip=ip):
            return redirect("newsletter:check_inbox")
        return self.render(
            "newsletter/resend_limited.html",
            per_day=settings.NEWSLETTER_CONFIRMATIONS_PER_DAY,
        )


@method_decorator(csrf_exempt, name="dispatch")
class UnsubscribeView(TokenView):
    """GET shows a button; any POST to the link unsubscribes at once.

    The POST needs no CSRF token: mail providers send RFC 8058's bare
    "List-Unsubscribe=One-Click" POST, and the signed token authorises it.
    """

    purpose = Purpose.UNSUBSCRIBE

    def get(self, request: HttpRequest, token: str) -> HttpResponse:
        if self.subscriber.has_left:
            return self.unsubscribed()
        return self.render("newsletter/unsubscribe.html")

    def post(self, request: HttpRequest, token: str) -> HttpResponse:
        one_click = request.POST.get("List-Unsubscribe") == "One-Click"
        how = Subscriber.LeftHow.ONE_CLICK if one_click else Subscriber.LeftHow.LINK
        bounces.unsubscribe_from_link(
            subscriber=self.subscriber,
            how=how,
            ip=ratelimit.client_ip(request),
            issue_id=issue_of(token, purpose=self.purpose),
        )
        return self.unsubscribed()

    def unsubscribed(self) -> HttpResponse:
        data_token = make_token(subscriber=self.subscriber, purpose=Purpose.DATA)
        return self.render(
            "newsletter/unsubscribed.html",
            data_url=reverse("newsletter:data", kwargs={"token": data_token}),
        )


class PreferencesView(TokenView):
    """Topics, how often, a pause: GET shows them, a POST saves one change.

    The signed link is the authority, like the unsubscribe link's; it never
    expires, so the link in an old email keeps working.
    """

    purpose = Purpose.PREFERENCES
    template_name = "newsletter/subscriber_preferences.html"
    SAVE = "save"
    PAUSE = "pause"
    RESUME = "resume"

    def get(self, request: HttpRequest, token: str) -> HttpResponse:
        return self.page(self.initial_form())

    def post(self, request: HttpRequest, token: str) -> HttpResponse:
        if self.subscriber.has_left:
            return self.page(None)
        action = request.POST.get("action")
        ip = ratelimit.client_ip(request)
        if action == self.PAUSE:
            self.subscriber = subscriptions.pause(subscriber=self.subscriber, ip=ip)
            return self.page(self.initial_form(), paused_now=True)
        if action == self.RESUME:
            self.subscriber = subscriptions.resume(subscriber=self.subscriber, ip=ip)
            return self.page(self.initial_form(), resumed_now=True)
        if action != self.SAVE:
            return self.page(self.initial_form(), status=400)
        form = PreferencesForm(request.POST)
        if not form.is_valid():
            return self.page(form, status=400)
        changed = subscriptions.update_preferences(
            subscriber=self.subscriber,
            topics=form.cleaned_data["topics"],
            frequency=form.cleaned_data["frequency"],
            advice_changes=form.cleaned_data["advice_changes"],
            ip=ip,
        )
        return self.page(self.initial_form(), saved=True, changed=bool(changed))

    def initial_form(self) -> PreferencesForm:
        return PreferencesForm(
            initial={
                "topics": list(self.subscriber.topics.values_list("pk", flat=True)),
                "frequency": self.subscriber.frequency,
                "advice_changes": self.subscriber.advice_changes,
            }
        )

    def page(
        self, form: PreferencesForm | None, status: int = 200, **context
    ) -> HttpResponse:
        unsubscribe_token = make_token(
            subscriber=self.subscriber, purpose=Purpose.UNSUBSCRIBE
        )
        return self.render(
            self.template_name,
            status=status,
            form=None if self.subscriber.has_left else form,
            unsubscribe_url=reverse(
                "newsletter:unsubscribe", kwargs={"token": unsubscribe_token}
            ),
            **context,
        )


class DataRequestView(TokenView):
    """What we hold about a subscriber: emailed to them, or a deletion link emailed.

    This page is reached from unsubscribe links, which travel in headers and in
    forwarded emails, so it never deletes anything itself: deleting takes the link
    emailed to the subscriber's address at that moment (DataDeleteView).
    """

    purpose = Purpose.DATA
    EXPORT = "export"
    DELETE = "delete"

    def get(self, request: HttpRequest, token: str) -> HttpResponse:
        return self.render("newsletter/data.html")

    def post(self, request: HttpRequest, token: str) -> HttpResponse:
        action = request.POST.get("action")
        if action == self.EXPORT:
            sent = services.request_data_export(
                subscriber=self.subscriber, ip=ratelimit.client_ip(request)
            )
            return self.render(
                "newsletter/data.html",
                export_sent=sent,
                export_refused=not sent,
                per_day=settings.NEWSLETTER_CONFIRMATIONS_PER_DAY,
            )
        if action == self.DELETE:
            sent = services.request_deletion(
                subscriber=self.subscriber, ip=ratelimit.client_ip(request)
            )
            return self.render(
                "newsletter/data.html",
                delete_sent=sent,
                delete_refused=not sent,
                per_day=settings.NEWSLETTER_CONFIRMATIONS_PER_DAY,
                max_age_hours=settings.NEWSLETTER_DELETE_LINK_MAX_AGE_HOURS,
            )
        return self.render("newsletter/data.html", status=400)


class DataDeleteView(TokenView):
    """The emailed deletion link: GET shows a button (mail scanners open links),
    its POST deletes. An expired link deletes nothing and offers the data page."""

    purpose = Purpose.DELETE
    allow_expired = True

    def get(self, request: HttpRequest, token: str) -> HttpResponse:
        if self.expired:
            return self.expired_page()
        return self.render("newsletter/data_delete_confirm.html")

    def post(self, request: HttpRequest, token: str) -> HttpResponse:
        if self.expired:
            return self.expired_page()
        email = self.subscriber.email
        subscriptions.delete_subscriber(subscriber=self.subscriber)
        return self.render("newsletter/data_deleted.html", email=email)

    def expired_page(self) -> HttpResponse:
        data_token = make_token(subscriber=self.subscriber, purpose=Purpose.DATA)
        return self.render(
            "newsletter/data_delete_expired.html",
            status=410,
            data_url=reverse("newsletter:data", kwargs={"token": data_token}),
            max_age_hours=settings.NEWSLETTER_DELETE_LINK_MAX_AGE_HOURS,
        )
