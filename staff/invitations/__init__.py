"""Invitations: how a person joins the staff in one role. A superuser, or an
account with "Can invite staff", invites an address from the admin or with
`manage.py invite_staff`; the emailed link (single use, STAFF_INVITATION_MAX_AGE)
leads to choosing a username and password, then the second factor (when
STAFF_TWO_FACTOR is on), then settings.STAFF_INVITATION_LANDING (the articles
app's "Your author profile" step, for writers and reviewers).

services.py decides and records (invite, resend, revoke, accept); forms.py and
views.py are the acceptance pages; admin.py the list with its actions.
"""
