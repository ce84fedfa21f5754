from django import template
from django.conf import settings
from django.utils.safestring import SafeString, mark_safe

from articles.models import Article
from articles.publishing import seo

register = template.Library()


class CaptureNode(template.Node):
    child_nodelists = ("nodelist",)

    def __init__(self, nodelist: template.NodeList, name: str):
        self.nodelist = nodelist
        self.name = name

    def render(self, context) -> str:
        # Safe: the captured output was rendered (and autoescaped) by the template.
        context[self.name] = mark_safe(self.nodelist.render(context).strip())
        return ""


@register.tag
def capture(parser, token):
    """{% capture as name %}...{% endcapture %}: render once, use as {{ name }}.

    Blocks inside still take a child template's override, so base.html can show the
    page's title block in <title> and again in og:title.
    """
    bits = token.split_contents()
    if len(bits) != 3 or bits[1] != "as":
        raise template.TemplateSyntaxError("Usage: {% capture as name %}")
    nodelist = parser.parse(("endcapture",))
    parser.delete_first_token()
    return CaptureNode(nodelist, bits[2])


@register.simple_tag(takes_context=True)
def seo_context(context) -> dict:
    """What includes/seo/meta.html shows: canonical URL, Open Graph type and image.

    A page can set canonical_url, og_type, og_image or og_image_alt in its context
    to override what is worked out here.
    """
    request = context.get("request")
    article = context.get("article")
    is_article = isinstance(article, Article)
    canonical = context.get("canonical_url")
    if canonical is None and not context.get("preview"):
        canonical = seo.canonical_url(request, context.get("page_obj"))
    image = context.get("og_image")
    image_alt = context.get("og_image_alt")
    size = (None, None)
    if image is None and is_article and article.cover_image:
        image = seo.article_image_url(article)
        image_alt = article.cover_image_alt
        size = (article.cover_image_width, article.cover_image_height)
    if image is None:
        image = seo.default_image_url()
        image_alt = settings.SITE_NAME
        size = seo.DEFAULT_IMAGE_SIZE
    return {
        "canonical": canonical,
        "og_type": context.get("og_type") or ("article" if is_article else "website"),
        "image": image,
        "image_alt": image_alt,
        "image_width": size[0],
        "image_height": size[1],
        "site_name": settings.SITE_NAME,
        "locale": seo.OG_LOCALE,
        "article": article if is_article else None,
    }


@register.simple_tag
def topic_json_ld(topic) -> SafeString:
    return seo.json_ld_script(seo.topic_json_ld(topic))


@register.simple_tag
def website_json_ld() -> SafeString:
    return seo.json_ld_script(seo.website_json_ld())
