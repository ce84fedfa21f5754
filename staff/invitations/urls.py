from django.urls import path

from staff.invitations import views

app_name = "staff_invitation"
urlpatterns = [
    path("<str:token>/", views.accept, name="accept"),
]
