"""Sending newsletter mail. One engine (engine.py) takes every message of every
kind of send: checked still due, paced (pacing.py), handed over (transport.py),
its outcome recorded, retried under one policy (retries.py). Each kind of send
brings its rows, its claim on them and its fenced writes: an issue's deliveries
(issues.py, claimed in batches by claims.py) and a subscription's welcome email
(welcome.py)."""
