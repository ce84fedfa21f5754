"""Readership: how often each article is read, per day and per kind of referrer,
counted on this site without cookies, addresses or fingerprints.

Cached pages never reach a view, so the count comes from the page itself: a small
deferred script (static/js/readership.js) posts one beacon per page view to
beacon.py, which checks it comes from one of our pages, drops bots and floods,
puts the referrer's host in a category (referrers.py) and adds one to the day's
row (counting.py). reports.py reads the counts for the admin's charts and CSV
export and says who may see them.
"""
