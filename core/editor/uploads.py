"""Image upload endpoint for CKEditor, replacing django-ckeditor's own view.

The package's view accepts any file Pillow can open under any extension; this one
stores images only (see core.images.check_image). It speaks both CKEditor 4
upload protocols: the image dialog (a script calling back into the editor) and
drag-and-drop/paste (JSON).
"""

import json

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.crypto import constant_time_compare
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from core.editor.services import store_editor_image


def _dialog_response(func_num: str, url: str, message: str = "") -> HttpResponse:
    # json.dumps escapes quotes; escaping every "<" keeps a crafted message from
    # closing the script element ("</script") or, with "<!--<script>", putting the
    # HTML parser in a state where our own "</script>" no longer closes it.
    args = ", ".join(json.dumps(v).replace("<", "\\u003c") for v in (url, message))
    return HttpResponse(
        "<!DOCTYPE html><script>"
        f"window.parent.CKEDITOR.tools.callFunction({int(func_num)}, {args});"
        "</script>"
    )


def _reply(request: HttpRequest, *, url: str = "", error: str = "") -> HttpResponse:
    func_num = request.GET.get("CKEditorFuncNum", "")
    if func_num.isdigit():
        return _dialog_response(func_num, url, error)
    if error:
        return JsonResponse({"uploaded": 0, "error": {"message": error}}, status=400)
    return JsonResponse({"uploaded": 1, "fileName": url.rsplit("/", 1)[-1], "url": url})


# CKEditor cannot send Django's CSRF token. It sends its own double-submit token
# (the ckCsrfToken cookie and form field), checked below; the session cookie is
# SameSite=Lax, and the URL is staff-only (see core/editor/urls.py).
@csrf_exempt
@require_POST
# The image dialog posts into a same-origin iframe and reads the answer there.
@xframe_options_sameorigin
def upload_image(request: HttpRequest) -> HttpResponse:
    cookie_token = request.COOKIES.get("ckCsrfToken", "")
    form_token = request.POST.get("ckCsrfToken", "")
    if not cookie_token or not constant_time_compare(cookie_token, form_token):
        return _reply(
            request, error="The upload was refused: reload the page and try again."
        )
    upload = request.FILES.get("upload")
    if upload is None:
        return _reply(request, error="Choose an image file to upload.")
    try:
        url = store_editor_image(upload=upload, user=request.user)
    except ValidationError as exc:
        return _reply(request, error=" ".join(exc.messages))
    return _reply(request, url=url)
