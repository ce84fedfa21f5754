"""Background tasks for articles (django-tasks; run by `manage.py db_worker`).

Each is idempotent: a task killed mid-run can be run again (see newsletter/tasks.py).
"""

from django_tasks import task

from articles import renditions


@task()
def make_renditions(source_name: str) -> int:
    """Make the responsive copies of one uploaded image (skips those made already)."""
    return renditions.make_renditions(source_name)


@task()
def forget_renditions(source_name: str) -> int:
    """Delete the copies of an image that was replaced, once nothing uses it."""
    return renditions.forget_renditions(source_name)
