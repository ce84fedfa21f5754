"""The product's settings, with a URLconf that adds the bench's bare view."""

from skincare.settings import *  # noqa: F403

ROOT_URLCONF = "benchsite.urls"
