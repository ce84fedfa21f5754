"""The newsletter's models, one module per concern; every model and name is
imported here too, as `newsletter.models.X` (the Django convention that code and
migrations rely on)."""

from newsletter.models.deliveries import (
    Delivery,
    DeliveryEvent,
    DeliveryQuerySet,
    LinkClick,
    LinkClickQuerySet,
    SendClaim,
    SendPace,
)
from newsletter.models.issues import (
    Issue,
    IssueApproval,
    IssueArticle,
    IssueQuerySet,
    Verdict,
)
from newsletter.models.series import (
    WelcomeStep,
    WelcomeStepApproval,
    WelcomeStepDelivery,
)
from newsletter.models.stats import IssueStats
from newsletter.models.subscribers import (
    LEFT_STATUSES,
    Frequency,
    LawfulBasis,
    Subscriber,
    SubscriberEvent,
    SubscriberImport,
    SubscriberQuerySet,
    SubscriberStatus,
)
from newsletter.models.welcome import (
    WelcomeApproval,
    WelcomeDelivery,
    WelcomeEmail,
)

__all__ = [
    "LEFT_STATUSES",
    "Delivery",
    "DeliveryEvent",
    "DeliveryQuerySet",
    "Frequency",
    "Issue",
    "IssueApproval",
    "IssueArticle",
    "IssueQuerySet",
    "IssueStats",
    "LawfulBasis",
    "LinkClick",
    "LinkClickQuerySet",
    "SendClaim",
    "SendPace",
    "Subscriber",
    "SubscriberEvent",
    "SubscriberImport",
    "SubscriberQuerySet",
    "SubscriberStatus",
    "Verdict",
    "WelcomeApproval",
    "WelcomeDelivery",
    "WelcomeEmail",
    "WelcomeStep",
    "WelcomeStepApproval",
    "WelcomeStepDelivery",
]
