"""django-ckeditor settings, imported by skincare/settings.py.

Our own upload view replaces the package's (core/editor/uploads.py): it checks the
extension and decodes with Pillow.
"""

EDITOR_APPS = ["ckeditor", "ckeditor_uploader"]

CKEDITOR_UPLOAD_PATH = "uploads/"
CKEDITOR_IMAGE_BACKEND = "ckeditor_uploader.backends.PillowBackend"
CKEDITOR_RESTRICT_BY_USER = "pk"
CKEDITOR_ALLOW_NONIMAGE_FILES = False
CKEDITOR_BROWSE_SHOW_DIRS = False
CKEDITOR_CONFIGS = {
    "default": {
        "skin": "moono-lisa",
        "toolbar": "Article",
        "toolbar_Article": [
            ["Format"],
            ["Bold", "Italic", "Subscript", "Superscript", "RemoveFormat"],
            ["NumberedList", "BulletedList", "Blockquote"],
            ["Link", "Unlink"],
            ["Image", "Table", "HorizontalRule", "SpecialChar"],
            ["Undo", "Redo"],
            ["Source", "Maximize"],
        ],
        "format_tags": "p;h2;h3;h4",
        "height": 420,
        "width": "100%",
        # Keep the editor to what the server-side sanitiser lets through, and drop
        # the cloud plugins (exportpdf) that would send content to a third party.
        "removePlugins": "exportpdf,flash,iframe,forms,smiley,language,div",
        # imagealt: the image dialog requires alternative text and hides the size
        # fields (static/admin/js/ckeditor/imagealt/plugin.js). Same origin, by
        # its unhashed static name, like contentsCss below.
        "extraPlugins": "uploadimage,imagealt",
        "external_plugin_resources": [
            ("imagealt", "/static/admin/js/ckeditor/imagealt/", "plugin.js")
        ],
        "removeDialogTabs": "image:advanced;link:advanced;link:target",
        # Border, spacing and alignment would be inline styles the sanitiser strips.
        # CKEditor 4.22 has no option to remove dialog fields; it drops every field
        # whose content the editor's filter disallows, so this removes the image
        # dialog's Border, HSpace, VSpace and Alignment. Width and height too would
        # be inline styles (the dialog never writes the attributes the sanitiser
        # keeps): disallowed, the dialog writes no size, and imagealt hides the
        # fields, which have no such filter check of their own.
        "disallowedContent": "img{border*,margin*,float,width,height}",
        # The editing area's stylesheet: images fit, prose is readable. Same origin
        # (STATIC_URL, unhashed name, which WhiteNoise serves too), so the admin's
        # CSP allows it.
        "contentsCss": ["/static/admin/css/editor-content.css"],
        "filebrowserUploadMethod": "form",
        "disableNativeSpellChecker": False,
        "linkDefaultProtocol": "https://",
    },
}

# ckeditor.W001 warns that the bundled CKEditor 4.22.1 has unfixed security
# advisories. We keep it by the product owner's choice and contain it: all rich
# text is sanitised with nh3 on save (core/sanitize.py), uploads are staff-only
# images checked by extension and Pillow, and the looser CSP it needs applies
# under /admin/ only (skincare/middleware.py).
EDITOR_SILENCED_CHECKS = ["ckeditor.W001"]
