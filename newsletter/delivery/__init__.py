"""Sending newsletter mail: one engine for issues and welcome emails (the
claim/lease protocol, the transport, retries, pacing) and what each kind of send
does with it."""
