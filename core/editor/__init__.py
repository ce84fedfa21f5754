"""The rich-text editor, in one place: its field, settings, upload view and URLs.

django-ckeditor (CKEditor 4) today. Replacing the editor means changing this
package, and nothing outside it: models use `fields.RichTextField`, settings take
`settings.py` from here, URLs include `urls.py`, and everything it produces is
sanitised on save (core/sanitize.py).
"""
