"""The one error the article rules raise, shared by the workflow and the services."""


class WorkflowError(Exception):
    """An action that is not allowed, or not possible now; the message says why."""
