"""What readers get from an article: its page prepared once and stored, images in
several widths, corrections as readers see them, SEO and JSON-LD, feeds and the
sitemap, and the page cache kept in step (invalidation)."""
