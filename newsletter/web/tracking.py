"""What comes back from sent emails: providers' reports and link clicks.

The one GET that writes is a click on an issue's link (/c/<token>/): it adds one to
that link's anonymous count and changes nothing about anyone.
"""

from anymail.webhooks.amazon_ses import AmazonSESTrackingWebhookView
from anymail.webhooks.brevo import BrevoTrackingWebhookView
from anymail.webhooks.mailgun import MailgunTrackingWebhookView
from anymail.webhooks.postmark import PostmarkTrackingWebhookView
from anymail.webhooks.sendgrid import SendGridTrackingWebhookView
from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from newsletter.issues import clicks

# Anymail's own views: they check the basic auth (ANYMAIL["WEBHOOK_SECRET"]) and
# the provider's signature where it has one, are CSRF exempt, and send each report
# to anymail's tracking signal (newsletter/delivery/bounces.py records it).
TRACKING_WEBHOOKS = {
    "postmark": PostmarkTrackingWebhookView.as_view(),
    "mailgun": MailgunTrackingWebhookView.as_view(),
    "amazon_ses": AmazonSESTrackingWebhookView.as_view(),
    "sendgrid": SendGridTrackingWebhookView.as_view(),
    "brevo": BrevoTrackingWebhookView.as_view(),
}


@csrf_exempt
def provider_webhook(request: HttpRequest, provider: str) -> HttpResponse:
    """Only the providers configured (settings.EMAIL_WEBHOOK_PROVIDERS) answer:
    the others have no secret to check posts against."""
    if provider not in settings.EMAIL_WEBHOOK_PROVIDERS:
        raise Http404("No such webhook.")
    return TRACKING_WEBHOOKS[provider](request)


class ClickView(View):
    """A link in an issue email: count the click, then on to the destination.

    Only links this site signed lead anywhere (a forged or altered one is a 404,
    never a redirect to an address of the sender's choosing). HEAD, as link
    checkers send, is answered without counting.
    """

    http_method_names = ["get", "head"]

    def get(self, request: HttpRequest, token: str) -> HttpResponse:
        issue_id, url = self._destination(token)
        clicks.count_click(issue_id=issue_id, url=url)
        return self._redirect(clicks.landing_url(url))

    def head(self, request: HttpRequest, token: str) -> HttpResponse:
        return self._redirect(clicks.landing_url(self._destination(token)[1]))

    @staticmethod
    def _destination(token: str) -> tuple[int, str]:
        try:
            return clicks.read_token(token)
        except clicks.BadClick:
            raise Http404("Not a link from our newsletter.") from None

    @staticmethod
    def _redirect(url: str) -> HttpResponse:
        response = HttpResponseRedirect(url)
        response["Cache-Control"] = "private, no-store"
        # The destination learns nothing of the token (nor that it was counted).
        response["Referrer-Policy"] = "no-referrer"
        response["X-Robots-Tag"] = "noindex"
        return response
