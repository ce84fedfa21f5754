"""Is this User-Agent a robot? Robots' page views are not readers'.

The list is crawler-user-agents (about 1,500 patterns, maintained by its community
and updated with the package); before it, a few words no browser's User-Agent
holds, which catch new robots the list does not know yet and tools that fetch
pages with a real browser (HeadlessChrome, Lighthouse, Playwright's own)."""

import re

import crawleruseragents

GENERIC = re.compile(
    r"bot\b|bot/|crawl|spider|slurp|scrape|headless|lighthouse|pagespeed|"
    r"playwright|puppeteer|selenium|phantomjs|preview|monitor|python|curl|wget|"
    r"httpclient|okhttp|go-http|java/|axios|node-fetch",
    re.IGNORECASE,
)


def is_bot(user_agent: str) -> bool:
    """True for robots, and for a request that names no browser at all."""
    if not user_agent or "Mozilla/" not in user_agent:
        return True
    return bool(GENERIC.search(user_agent)) or crawleruseragents.is_crawler(user_agent)
