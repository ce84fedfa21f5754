"""The editor's endpoints, included under /admin/ so the admin's looser CSP covers
its upload dialog (skincare/urls.py)."""

from ckeditor_uploader.views import browse
from django.contrib.admin.views.decorators import staff_member_required
from django.urls import path
from django.views.decorators.cache import never_cache

from core.editor.uploads import upload_image

urlpatterns = [
    path("upload/", staff_member_required(upload_image), name="ckeditor_upload"),
    path("browse/", never_cache(staff_member_required(browse)), name="ckeditor_browse"),
]
