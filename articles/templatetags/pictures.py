from django import template
from django.utils.safestring import SafeString

from articles.publishing import renditions

register = template.Library()


@register.simple_tag(takes_context=True)
def picture(
    context,
    image,
    *,
    alt: str = "",
    sizes: str = "cover",
    width: int | None = None,
    height: int | None = None,
    lazy: bool = True,
    priority: bool = False,
    css_class: str = "",
) -> SafeString | str:
    """<picture> markup for an uploaded image (an ImageField's file) using its
    renditions, looked up once for the whole page; a plain <img> until there are
    any. `sizes`: a key of renditions.SIZES or a sizes attribute value. Lazy
    unless lazy=False; priority=True (the page's main image): fetchpriority=high."""
    name = getattr(image, "name", "") or ""
    if not name:
        return ""
    return renditions.render_picture(
        src=image.url,
        renditions=renditions.page_renditions(context, name),
        alt=alt,
        width=width,
        height=height,
        sizes=sizes,
        lazy=lazy and not priority,
        priority=priority,
        css_class=css_class,
    )
