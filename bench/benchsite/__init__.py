"""A bench-only settings module and URLconf (bench/page_speed.py): the product's
settings and URLs plus a bare view, so the baseline runs the same code."""
