from ckeditor_uploader.fields import RichTextUploadingField


class RichTextField(RichTextUploadingField):
    """Rich text edited in the admin's editor. Sanitise before saving
    (core.sanitize.sanitize_html): the editor's output is never trusted."""
