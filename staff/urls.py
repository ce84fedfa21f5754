from django.urls import path

from staff import views

app_name = "staff"
urlpatterns = [
    path("verify/", views.verify, name="verify"),
    path("confirm/", views.verify, {"confirm": True}, name="confirm"),
    path("enrol/", views.enrol, name="enrol"),
    path("methods/", views.factors, name="factors"),
    path("backup-codes/", views.backup_codes, name="backup_codes"),
    path("unlock/", views.unlock_request, name="unlock_request"),
    path("unlock/<str:token>/", views.unlock_link, name="unlock"),
]
