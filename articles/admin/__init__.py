"""The articles' staff side. Importing the modules registers their ModelAdmins:
articles.py (editing and the workflow actions; its form and sources inline in
article_forms.py), revision_views.py (revisions, their comparison, restore,
autosave, share previews), site_content.py (topics, authors, the home page,
search synonyms), search_insight.py (the search insight report, pinned results,
story ideas), sources.py (the source check). dashboard.py gathers what the
editorial dashboard on the admin home shows (templates/admin/index.html) and
registers nothing."""

from articles.admin import articles, search_insight, site_content, sources

__all__ = ["articles", "search_insight", "site_content", "sources"]
