"""A bench-only settings module and URLconf (bench/page_speed.py): the product's
settings and URLs plus a bare view, so the baseline runs the same code; and, with
BENCH_PLAIN_READS=1, the stored article page read through the ORM on every request
(benchsite.apps.PlainReads), to weigh core/compiled.py."""
