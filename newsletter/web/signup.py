"""Signing up: the newsletter page and its form, on every public page's footer too.

Signing up shows the same "check your inbox" page whatever the address's state, so
the form cannot be used to find out who subscribes.
"""

import logging
import math

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from django.views.generic import TemplateView

from newsletter.models import Issue, Subscriber
from newsletter.subscribers import services
from newsletter.web import origin, ratelimit
from newsletter.web.forms import SubscribeForm, SubscribePageForm

logger = logging.getLogger(__name__)

RECENT_ISSUES = 3


@method_decorator(csrf_exempt, name="dispatch")
class SubscribeView(View):
    """GET: the newsletter page. POST (from it or any page's footer): sign up.

    No CSRF token: the form is on every public page, and a token would put a
    per-visitor secret in each of them (see newsletter.web.origin). Cross-site posts
    are refused from the Origin / Sec-Fetch-Site headers instead, before they can
    count against the visitor's sign-up limit.
    """

    template_name = "newsletter/subscribe.html"
    http_method_names = ["get", "post", "head", "options"]

    def get(self, request: HttpRequest) -> HttpResponse:
        form = SubscribePageForm(initial={"source": Subscriber.Source.PAGE})
        return self.page(form)

    def post(self, request: HttpRequest) -> HttpResponse:
        if not origin.is_own_origin(request):
            logger.info(
                "Newsletter sign-up refused: cross-site post (Origin %r, "
                "Sec-Fetch-Site %r)",
                request.headers.get("Origin"),
                request.headers.get("Sec-Fetch-Site"),
            )
            return render(
                request, "newsletter/cross_site.html", SIGNUP_FLOW, status=403
            )
        ip = ratelimit.client_ip(request)
        decision = ratelimit.hit(
            scope="newsletter-signup",
            ip=ip,
            limit=settings.NEWSLETTER_SIGNUPS_PER_IP_PER_HOUR,
        )
        if not decision.allowed:
            if decision.count == settings.NEWSLETTER_SIGNUPS_PER_IP_PER_HOUR + 1:
                # Once per address and window, so a flood does not flood the log.
                logger.warning("Newsletter sign-ups from %s over the hourly limit", ip)
            response = render(
                request,
                "newsletter/rate_limited.html",
                {"minutes": math.ceil(decision.retry_after / 60), **SIGNUP_FLOW},
                status=429,
            )
            response["Retry-After"] = str(decision.retry_after)
            return response
        if SubscribeForm.is_bot(request.POST):
            logger.info("Newsletter sign-up from %s filled the honeypot", ip)
            return redirect("newsletter:check_inbox")
        # The footer's form has no topics: none sent means none chosen.
        form = SubscribePageForm(request.POST)
        if not form.is_valid():
            return self.page(form)
        services.subscribe(
            email=form.cleaned_data["email"],
            first_name=form.cleaned_data["first_name"],
            source=form.cleaned_data["source"],
            ip=ip,
            topics=form.cleaned_data["topics"],
        )
        return redirect("newsletter:check_inbox")

    def page(self, form: SubscribeForm) -> HttpResponse:
        recent = Issue.objects.archived().only("subject", "slug", "sent_at")
        context = {
            "form": form,
            "recent_issues": list(recent[:RECENT_ISSUES]),
            # The footer leaves the sign-up to this page's own form.
            "newsletter_page": True,
        }
        return render(self.request, self.template_name, context)


# Pages of signing up, confirming and leaving: the footer leaves out its sign-up.
SIGNUP_FLOW = {"signup_flow": True}


class CheckInboxView(TemplateView):
    """After signing up: the same words for every address, known or not."""

    template_name = "newsletter/check_inbox.html"
    extra_context = SIGNUP_FLOW
