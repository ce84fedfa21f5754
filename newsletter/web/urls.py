from django.urls import path

from core.pagecache import public_page
from newsletter.web import archive, links, signup, tracking

app_name = "newsletter"

urlpatterns = [
    path("", public_page(signup.SubscribeView.as_view()), name="subscribe"),
    path("thanks/", signup.CheckInboxView.as_view(), name="check_inbox"),
    path("confirm/<str:token>/", links.ConfirmView.as_view(), name="confirm"),
    path(
        "confirm/<str:token>/resend/",
        links.ResendConfirmationView.as_view(),
        name="confirm_resend",
    ),
    path(
        "unsubscribe/<str:token>/", links.UnsubscribeView.as_view(), name="unsubscribe"
    ),
    path(
        "preferences/<str:token>/",
        links.PreferencesView.as_view(),
        name="preferences",
    ),
    path("data/<str:token>/", links.DataRequestView.as_view(), name="data"),
    path(
        "data/<str:token>/delete/",
        links.DataDeleteView.as_view(),
        name="data_delete",
    ),
    path("c/<str:token>/", tracking.ClickView.as_view(), name="click"),
    path("archive/", public_page(archive.ArchiveListView.as_view()), name="archive"),
    path(
        "webhooks/<str:provider>/tracking/",
        tracking.provider_webhook,
        name="provider_webhook",
    ),
    path(
        "archive/<slug:slug>/",
        public_page(archive.ArchiveDetailView.as_view()),
        name="archive_detail",
    ),
]
