"""The articles app's models, one module per concern; every name is importable
from `articles.models` as before (migrations name some of them by that path)."""

from articles.models.content import (
    DEFAULT_REVIEW_INTERVAL_MONTHS,
    EVIDENCE_EXPLAINED,
    SOURCE_FIELDS,
    Article,
    ArticleQuerySet,
    ArticleRedirect,
    Author,
    Evidence,
    Reference,
    Stage,
    Topic,
    is_live,
    published_q,
    source_dict,
)
from articles.models.editorial import (
    ArticleRevision,
    AuthorChange,
    Autosave,
    Correction,
    MedicalApproval,
    MedicalFlagChange,
    PreviewLink,
    ReviewReminder,
    Transition,
)
from articles.models.insight import SearchCount, SearchPromotion, StoryIdea
from articles.models.publishing import ImageRendition, PreparedPage, RelatedArticle
from articles.models.readership import DailyReadership, ReadershipSource
from articles.models.site import EditorialPolicy, HomePage, SearchSynonym

__all__ = [
    "DEFAULT_REVIEW_INTERVAL_MONTHS",
    "EVIDENCE_EXPLAINED",
    "SOURCE_FIELDS",
    "Article",
    "ArticleQuerySet",
    "ArticleRedirect",
    "ArticleRevision",
    "Author",
    "AuthorChange",
    "Autosave",
    "Correction",
    "DailyReadership",
    "EditorialPolicy",
    "Evidence",
    "HomePage",
    "ImageRendition",
    "MedicalApproval",
    "MedicalFlagChange",
    "PreparedPage",
    "PreviewLink",
    "ReadershipSource",
    "Reference",
    "RelatedArticle",
    "ReviewReminder",
    "SearchCount",
    "SearchPromotion",
    "SearchSynonym",
    "Stage",
    "StoryIdea",
    "Topic",
    "Transition",
    "is_live",
    "published_q",
    "source_dict",
]
