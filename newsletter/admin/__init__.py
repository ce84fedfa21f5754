"""The newsletter's staff side: one module per model, plus the CSV export, the
import flow and the send-progress presenter they use. Importing the modules
registers their ModelAdmins."""

from newsletter.admin import issues, series, subscribers, welcome

__all__ = ["issues", "series", "subscribers", "welcome"]
