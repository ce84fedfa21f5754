"""The editorial record and its rules: the workflow and who may act, revisions and
their comparison, medical review, content checks, review reminders, autosave and
share previews. The admin views over them are in articles/admin/."""
