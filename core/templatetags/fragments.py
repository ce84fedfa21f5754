"""{% shared_fragment "template" name=value ... %}: a piece of page that is the
same for every visitor, rendered once per process for each set of values.

The site's header and footer are on every page and depend on a handful of values
(which page of the menu is current, whether the page is a sign-up step, the
year), never on the visitor or the page's own data. Rendering them, with their
URL reversals, cost about a quarter of a stored article page
(articles/publishing/prepared.py).
The template sees only the values given. With DEBUG, it is rendered every time,
so template edits show at once.
"""

from functools import lru_cache

from django import template
from django.conf import settings
from django.template.loader import render_to_string
from django.urls import get_script_prefix
from django.utils.safestring import SafeString, mark_safe

register = template.Library()


@register.simple_tag
def shared_fragment(template_name: str, **values) -> SafeString:
    if settings.DEBUG:
        return _render(template_name, tuple(sorted(values.items())))
    # Addresses are reversed under the deployment's script prefix.
    return _rendered(template_name, tuple(sorted(values.items())), get_script_prefix())


# Each distinct set of values is one entry: the values are a few flags and names
# chosen by templates, so the entries stay few.
@lru_cache(maxsize=256)
def _rendered(template_name: str, values: tuple, script_prefix: str) -> SafeString:
    return _render(template_name, values)


def _render(template_name: str, values: tuple) -> SafeString:
    # Safe: rendered by the template engine, which escaped it.
    return mark_safe(render_to_string(template_name, dict(values)))
