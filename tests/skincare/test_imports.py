"""The allowed imports between the apps and modules, read from the source (AST).

- `core` (shared pieces) imports none of the apps nor the project package;
- `articles` imports `core` only: it knows nothing of the newsletter;
- `newsletter` imports `core`, and of `articles` only `articles.public` (public
  querysets such as Article.objects.published());
- `staff` (staff sign-in) imports `core` only;
- nothing imports the project package `skincare` (settings are read through
  django.conf), which alone wires the apps together (URLs), and of `articles` it
  too imports only `articles.public`;
- inside `articles`, each room (models, search, publishing, editorial, web,
  admin...) imports only the rooms ROOMS_ALLOWED names;
- no import circles between modules, and no imports inside functions used to hide
  one (an AppConfig.ready() importing its signal receivers and its calendar source,
  which need the models loaded, is the one exception).
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("core", "articles", "newsletter", "staff", "skincare")
ALLOWED_APPS = {
    "core": set(),
    "articles": {"core"},
    "newsletter": {"core", "articles"},
    "staff": {"core"},
    "skincare": {"core", "articles", "newsletter", "staff"},
}
# What one app may use of another, when not all of it.
ALLOWED_MODULES = {
    ("newsletter", "articles"): {"articles.public"},
    ("skincare", "articles"): {"articles.public"},
}

# The rooms of the articles app: a module's room is its first part under
# `articles` (articles.editorial.workflow is in "editorial"; articles.services is
# a room of its own). A room may always import itself; else only what it names.
ARTICLE_ROOMS = (
    "admin",
    "apps",
    "calendar",
    "editorial",
    "errors",
    "images",
    "launch",
    "management",
    "models",
    "public",
    "publishing",
    "readership",
    "search",
    "selectors",
    "services",
    "signals",
    "sources",
    "tasks",
    "templatetags",
    "web",
)
EVERY_ROOM = set(ARTICLE_ROOMS)
ROOMS_ALLOWED = {
    "errors": set(),
    # Upload names: migrations name them here, so they stay out of the models.
    "images": set(),
    "models": {"images"},
    "selectors": {"models"},
    "search": {"models"},
    "publishing": {"models", "selectors"},
    # The workflow saves and publishes through services, and services ask
    # editorial.medical who may change a reviewer's profile or a topic's flag:
    # both ways between rooms, never a circle between modules.
    "editorial": {"errors", "models", "publishing", "services"},
    "services": {"errors", "models", "publishing", "editorial", "search", "tasks"},
    "signals": {"models", "publishing", "search", "services"},
    # Registers its calendar source (core.calendar) once the models are loaded.
    "apps": {"signals", "calendar"},
    # The calendar's entries, movable by whoever the workflow lets edit.
    "calendar": {"models", "editorial"},
    "web": {"models", "selectors", "publishing", "search", "editorial", "readership"},
    # Counting page views and reading the counts; who may see them is the
    # workflow's roles (editorial.permissions).
    "readership": {"models", "editorial"},
    # Source health: checks sources, tells the desk through the workflow.
    "sources": {"errors", "models", "editorial"},
    "launch": {"models"},
    "templatetags": {"models", "publishing", "admin"},
    # What it re-exports to the other apps, and nothing else.
    "public": {"models", "publishing"},
    # The entry points that wire the rooms together.
    "admin": EVERY_ROOM,
    "management": EVERY_ROOM,
    "tasks": EVERY_ROOM,
}
# What one room may use of another, when not all of it.
ROOM_MODULES = {
    # The public page of a share preview: the link, its revision, its approval.
    ("web", "editorial"): {
        "articles.editorial.medical",
        "articles.editorial.previews",
        "articles.editorial.revisions",
    },
    ("calendar", "editorial"): {"articles.editorial.permissions"},
    ("readership", "editorial"): {"articles.editorial.permissions"},
    ("web", "readership"): {"articles.readership.beacon"},
    ("public", "publishing"): {
        "articles.publishing.seo",
        "articles.publishing.sitemaps",
    },
}


def project_modules() -> dict[str, Path]:
    modules = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


MODULES = project_modules()


def resolve(name: str) -> str | None:
    """The project module an import names (a module, or a package's member)."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def imports_of(path: Path, module: str) -> list[tuple[str, bool, int]]:
    """(imported project module, at module level?, line) for each import."""
    tree = ast.parse(path.read_text(), filename=str(path))
    top_level = set(map(id, tree.body))
    found = []
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            base = node.module
            if node.level:
                package = module.split(".")
                if path.name != "__init__.py":
                    package = package[:-1]
                base = ".".join([*package[: len(package) - node.level + 1], base])
            names = [f"{base}.{alias.name}" for alias in node.names] or [base]
        for name in names:
            target = resolve(name)
            if target and target != module:
                found.append((target, id(node) in top_level, node.lineno))
    return found


GRAPH = {module: imports_of(path, module) for module, path in sorted(MODULES.items())}


def test_the_walk_sees_the_project():
    assert {
        "core.sanitize",
        "articles.models",
        "newsletter.delivery.issues",
        "staff.two_factor",
        "articles.public",
        "articles.editorial.workflow",
    } <= set(MODULES)
    assert ("core.sanitize", True) in {
        (target, top) for target, top, _ in GRAPH["newsletter.subscribers.services"]
    }


@pytest.mark.parametrize("module", sorted(MODULES))
def test_module_imports_only_what_its_app_may(module):
    app = module.split(".")[0]
    wrong = []
    for target, _, line in GRAPH[module]:
        other = target.split(".")[0]
        if other == app:
            continue
        allowed_modules = ALLOWED_MODULES.get((app, other))
        if other not in ALLOWED_APPS[app] or (
            allowed_modules is not None and target not in allowed_modules
        ):
            wrong.append(f"line {line}: {target}")
    assert wrong == [], f"{module} imports what {app} may not"


def room_of(module: str) -> str | None:
    """The room of an articles module; None for other apps and the package."""
    parts = module.split(".")
    return parts[1] if parts[0] == "articles" and len(parts) > 1 else None


def room_violations(graph: dict[str, list[tuple[str, bool, int]]]) -> list[str]:
    """Each import of one articles room by another that ROOMS_ALLOWED forbids."""
    wrong = []
    for module, imports in sorted(graph.items()):
        room = room_of(module)
        if room is None:
            continue
        for target, _, line in imports:
            other = room_of(target)
            if other is None or other == room:
                continue
            allowed_modules = ROOM_MODULES.get((room, other))
            if other not in ROOMS_ALLOWED[room] or (
                allowed_modules is not None and target not in allowed_modules
            ):
                wrong.append(f"{module} line {line}: {target}")
    return wrong


@pytest.mark.parametrize("module", sorted(m for m in MODULES if room_of(m) is not None))
def test_articles_module_imports_only_rooms_its_room_may(module):
    assert room_violations({module: GRAPH[module]}) == []


def test_the_room_rules_name_only_rooms_that_exist():
    found = {room_of(m) for m in MODULES} - {None}
    assert set(ARTICLE_ROOMS) == found
    assert set(ROOMS_ALLOWED) == found
    assert set().union(*ROOMS_ALLOWED.values()) <= found
    for (room, other), modules in ROOM_MODULES.items():
        assert {room, other} <= found
        assert modules <= {m for m in MODULES if room_of(m) == other}


def test_a_forbidden_room_import_is_found():
    fake = {
        "articles.models.content": [("articles.web.views", True, 3)],
        "articles.web.views": [
            ("articles.selectors", True, 4),
            ("articles.editorial.workflow", True, 5),
        ],
        "articles.search.engine": [("articles.search.common", True, 6)],
    }
    assert room_violations(fake) == [
        "articles.models.content line 3: articles.web.views",
        "articles.web.views line 5: articles.editorial.workflow",
    ]


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_import_inside_a_function(module):
    local = [
        (target, line)
        for target, top_level, line in GRAPH[module]
        if not top_level
        and not (
            module.endswith(".apps") and target.endswith((".signals", ".calendar"))
        )
    ]
    assert local == []


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_no_import_circles():
    graph = {
        module: {target for target, _, _ in imports}
        for module, imports in GRAPH.items()
    }
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))


def test_cycle_finder_finds_a_circle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


# Rooms inside the newsletter ---------------------------------------------------------
#
# A room is a sub-package of newsletter (models, delivery, admin, management,
# templatetags) or one of its top-level modules; in the rooms by concern
# (subscribers, issues, web) each module is a room of its own. Sending (delivery)
# works from the models and the few pieces it needs (rendering, the audience,
# unsubscribing) and knows nothing of the admin, the web pages, the services or the
# tasks that start it; the models import no other room; the admin, the web pages and
# the tasks may use every room. Imports within one room, and of other apps, are the
# tests above.


# Module by module, so that sending may use how a subscriber leaves and not the
# services that sign them up.
ROOMS_BY_MODULE = {"subscribers", "issues", "web"}


def newsletter_room(module: str) -> str:
    """The room of a newsletter module: its sub-package, or the module itself."""
    parts = module.split(".")
    if len(parts) > 2 and parts[1] in ROOMS_BY_MODULE:
        return ".".join(parts[1:3])
    return parts[1] if len(parts) > 1 else "__init__"


NEWSLETTER_EXISTING_ROOMS = {
    newsletter_room(module) for module in MODULES if module.startswith("newsletter")
}
# The subscriber-facing pages, by page group.
NEWSLETTER_PAGES = {"web.archive", "web.links", "web.signup", "web.tracking"}
# Every room but those that must stay below the others.
NEWSLETTER_ANY = NEWSLETTER_EXISTING_ROOMS - {"admin", "tasks", "web.urls"}
NEWSLETTER_ANY -= NEWSLETTER_PAGES
NEWSLETTER_ALLOWED = {
    "__init__": set(),
    "models": set(),
    "subscribers": set(),
    "issues": set(),
    "web": set(),
    "subscribers.names": set(),
    "web.origin": set(),
    "web.sitemaps": {"models"},
    "web.ratelimit": set(),
    "issues.clicks": {"models"},
    "issues.review": {"models"},
    "subscribers.subscriptions": {"models"},
    "subscribers.tokens": {"models"},
    # Expiring operational history: tells a pause from a change of consent.
    "subscribers.retention": {"models", "subscribers.subscriptions"},
    "emails": {"issues.clicks", "models", "subscribers.tokens"},
    "selectors": {"issues.review", "models"},
    "subscribers.imports": {
        "emails",
        "models",
        "subscribers.names",
        "subscribers.subscriptions",
    },
    "delivery": {"emails", "models", "selectors", "subscribers.subscriptions"},
    "signals": {"delivery", "issues.notices", "models", "selectors"},
    "issues.notices": {"models"},
    # The sends on the editorial calendar (core.calendar).
    "calendar": {"models"},
    "apps": {"signals", "calendar"},
    "subscribers.services": {
        "delivery",
        "emails",
        "models",
        "subscribers.imports",
        "subscribers.subscriptions",
        "tasks",
    },
    "issues.services": {
        "emails",
        "issues.review",
        "models",
        "selectors",
        "subscribers.services",
        "tasks",
    },
    # The welcome series' later steps: edits, switches, approvals.
    "issues.series": {
        "emails",
        "issues.review",
        "issues.services",
        "models",
        "subscribers.services",
        "tasks",
    },
    "web.forms": {"models", "subscribers.names", "subscribers.services"},
    "recovery": {"delivery", "models", "tasks"},
    "management": {"models", "subscribers.subscriptions"},
    "templatetags": {"models", "selectors", "web.forms"},
    "tasks": NEWSLETTER_ANY,
    "admin": NEWSLETTER_ANY | {"tasks"},
    "web.archive": NEWSLETTER_ANY | {"tasks"},
    "web.signup": NEWSLETTER_ANY | {"tasks"},
    "web.tracking": NEWSLETTER_ANY | {"tasks"},
    # The pages behind a personal link are part of the sign-up flow's look.
    "web.links": NEWSLETTER_ANY | {"tasks", "web.signup"},
    "web.urls": NEWSLETTER_PAGES,
}


def newsletter_wrong_edges(
    graph: dict[str, list[tuple[str, bool, int]]], allowed: dict[str, set[str]]
) -> list[str]:
    """The imports between newsletter rooms that `allowed` does not list."""
    wrong = []
    for module, imports in sorted(graph.items()):
        if not module.startswith("newsletter"):
            continue
        room = newsletter_room(module)
        for target, _, line in imports:
            if not target.startswith("newsletter"):
                continue
            other = newsletter_room(target)
            if other != room and other not in allowed.get(room, set()):
                wrong.append(f"{module} line {line}: {target} ({room} -> {other})")
    return wrong


@pytest.mark.parametrize(
    "module", sorted(m for m in MODULES if m.startswith("newsletter"))
)
def test_newsletter_module_imports_only_the_rooms_its_room_may(module):
    assert newsletter_wrong_edges({module: GRAPH[module]}, NEWSLETTER_ALLOWED) == []


def test_newsletter_rooms_table_names_only_existing_rooms_and_all_of_them():
    named = set(NEWSLETTER_ALLOWED).union(*NEWSLETTER_ALLOWED.values())
    assert named <= NEWSLETTER_EXISTING_ROOMS, named - NEWSLETTER_EXISTING_ROOMS
    assert set(NEWSLETTER_ALLOWED) == NEWSLETTER_EXISTING_ROOMS


def test_newsletter_delivery_and_models_stay_below_the_rest():
    for room in (
        "admin",
        *NEWSLETTER_PAGES,
        "subscribers.services",
        "issues.services",
        "tasks",
    ):
        assert room not in NEWSLETTER_ALLOWED["delivery"]
    assert NEWSLETTER_ALLOWED["models"] == set()


def test_newsletter_a_forbidden_edge_is_found_on_a_fake_graph():
    fake = {
        "newsletter.delivery.engine": [
            ("newsletter.models", True, 1),
            ("core.dkim_signing", True, 2),
            ("newsletter.admin.issues", True, 3),
        ],
        "newsletter.models.issues": [("newsletter.models.subscribers", True, 4)],
        "newsletter.admin.issues": [("newsletter.delivery.issues", True, 5)],
    }
    assert newsletter_wrong_edges(fake, NEWSLETTER_ALLOWED) == [
        "newsletter.delivery.engine line 3: newsletter.admin.issues (delivery -> admin)"
    ]
