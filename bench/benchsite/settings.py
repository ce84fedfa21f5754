"""The product's settings, with a URLconf that adds the bench's bare view."""

import os

from skincare.settings import *  # noqa: F403
from skincare.settings import INSTALLED_APPS

ROOT_URLCONF = "benchsite.urls"

# page_speed.py's "plain reads" instance: what the uncached article costs when its
# stored page is read with querysets built and compiled on every request.
PLAIN_READS = os.environ.get("BENCH_PLAIN_READS") == "1"
if PLAIN_READS:
    INSTALLED_APPS = [*INSTALLED_APPS, "benchsite.apps.PlainReads"]
