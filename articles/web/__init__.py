"""The public site of articles: its pages and their URLs (articles/web/urls.py)."""
