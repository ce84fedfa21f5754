from django.urls import path

from core.pagecache import public_page
from newsletter import views

app_name = "newsletter"

urlpatterns = [
    path("", public_page(views.SubscribeView.as_view()), name="subscribe"),
    path("thanks/", views.CheckInboxView.as_view(), name="check_inbox"),
    path("confirm/<str:token>/", views.ConfirmView.as_view(), name="confirm"),
    path(
        "confirm/<str:token>/resend/",
        views.ResendConfirmationView.as_view(),
        name="confirm_resend",
    ),
    path(
        "unsubscribe/<str:token>/", views.UnsubscribeView.as_view(), name="unsubscribe"
    ),
    path(
        "preferences/<str:token>/",
        views.PreferencesView.as_view(),
        name="preferences",
    ),
    path("data/<str:token>/", views.DataRequestView.as_view(), name="data"),
    path(
        "data/<str:token>/delete/",
        views.DataDeleteView.as_view(),
        name="data_delete",
    ),
    path("c/<str:token>/", views.ClickView.as_view(), name="click"),
    path("archive/", public_page(views.ArchiveListView.as_view()), name="archive"),
    path(
        "webhooks/<str:provider>/tracking/",
        views.provider_webhook,
        name="provider_webhook",
    ),
    path(
        "archive/<slug:slug>/",
        public_page(views.ArchiveDetailView.as_view()),
        name="archive_detail",
    ),
]
