"""`manage.py db_worker`: django-tasks-db's worker, announcing itself.

core is listed before django_tasks_db in INSTALLED_APPS, so this command is the one
`db_worker` runs (Django takes a command from the first app that has it).
"""

import logging
import os

from django.db import DatabaseError, connections
from django.utils.autoreload import DJANGO_AUTORELOAD_ENV
from django_tasks_db.management.commands import db_worker

from core import workers

logger = logging.getLogger(__name__)


class Command(db_worker.Command):
    help = (
        "Run a database background worker (django-tasks-db's) that beats while it "
        "runs, and puts back in the queue the tasks of workers that died "
        "(core/workers.py). Stop it with SIGTERM or Ctrl-C: it finishes its task "
        "first."
    )

    def handle(self, *args, **options) -> None:
        # With --reload, this process only restarts a child on code changes; the
        # child runs this command again, and the tasks.
        if (
            options["reload"]
            and not options["batch"]
            and os.environ.get(DJANGO_AUTORELOAD_ENV) != "true"
        ):
            super().handle(*args, **options)
            return
        # Importable: the system check (core.E011) ran before this.
        recovery = workers.recovery_functions()
        worker_id = options["worker_id"]
        # Known alive before it takes a task, so no other worker puts it back.
        workers.announce(worker_id=worker_id)
        reclaimed = workers.recover(recovery)
        for name in reclaimed.requeued:
            self.stdout.write(f"Put back in the queue (its worker died): {name}")
        for name in reclaimed.failed:
            self.stdout.write(f"Failed (its workers kept dying): {name}")
        heart = workers.Heart(worker_id=worker_id, recovery=recovery)
        heart.start()
        try:
            super().handle(*args, **options)
        finally:
            heart.stop()
            # A stop signal ends the library's worker wherever it is, maybe inside
            # a transaction it had begun: the row is removed on a fresh connection.
            connections.close_all()
            try:
                workers.retire(worker_id=worker_id)
            except DatabaseError:
                # Removed later by a live worker, once it is known dead.
                logger.warning("Worker %s could not remove its row", worker_id)
