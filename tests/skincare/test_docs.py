"""What README.md and docs/*.md name exists: every `make` target, `manage.py`
command, repository file or folder, project module (and name in it) given in their
code (`spans` and fenced blocks), and every link between the documents, down to
the heading it points at. README.md stays an entry page: at most 150 lines, the
two commands first."""

import importlib
import re
from pathlib import Path

import pytest
from django.core.management import get_commands

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
README_MOST_LINES = 150
# The repository's own folders and top-level files: a name starting with one of
# them is a path in the repository (anything else, such as sent-emails/ or
# /var/backups/, is what the site or the reader makes).
FOLDERS = (
    "articles",
    "bench",
    "core",
    "deploy",
    "docs",
    "newsletter",
    "skincare",
    "staff",
    "static",
    "templates",
    "tests",
)
FILES = ("Makefile", "README.md", "manage.py", "pyproject.toml", "requirements.txt")
PACKAGES = ("articles", "core", "newsletter", "skincare", "staff")

FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
SPAN = re.compile(r"`([^`\n]+)`")
LINK = re.compile(r"\]\(([^)\s]+)\)")
PATH = re.compile(rf"^(?:\./)?((?:{'|'.join(FOLDERS)})/\S*|{'|'.join(FILES)})$")
DOTTED = re.compile(rf"^(?:{'|'.join(PACKAGES)})(?:\.[A-Za-z_]\w*)+$")
# A system check's id (core.E002) or a host name (skincare.example) names no module.
NOT_A_MODULE = re.compile(r"^\w+\.[CEWI]\d{3}$|\.(?:example|test|local|com|org|net)$")
MAKE = re.compile(r"(?:^|[\s;&|(])make\s+([a-z][\w-]*)")
MANAGE = re.compile(r"manage\.py\s+([a-z_][\w-]*)")


def code_in(text: str) -> list[str]:
    """The fenced blocks and the code spans outside them."""
    blocks = FENCE.findall(text)
    return [*blocks, *SPAN.findall(FENCE.sub("", text))]


def tokens(code: str) -> list[str]:
    return [
        token.rstrip(".:,;")
        for token in re.split(r"[\s`'\"()=,;]+", code)
        if token.rstrip(".:,;")
    ]


def make_targets() -> set[str]:
    targets = set()
    for line in (ROOT / "Makefile").read_text().splitlines():
        if match := re.match(r"^([\w./$() -]+?)\s*:(?!=)", line):
            targets.update(match[1].split())
    return targets


def missing_paths(code: list[str]) -> list[str]:
    missing = []
    for token in {t for snippet in code for t in tokens(snippet)}:
        if not (match := PATH.match(token)):
            continue
        # <name> and * stand for any name.
        pattern = re.sub(r"<[^>]*>", "*", match[1]).rstrip("/")
        if "*" in pattern:
            if not any(ROOT.glob(pattern)):
                missing.append(token)
        elif not (ROOT / pattern).exists():
            missing.append(token)
    return sorted(missing)


def missing_names(code: list[str]) -> list[str]:
    missing = []
    for token in {t for snippet in code for t in tokens(snippet)}:
        if not DOTTED.match(token) or NOT_A_MODULE.search(token):
            continue
        parts = token.split(".")
        for split in range(len(parts), 0, -1):
            try:
                found = importlib.import_module(".".join(parts[:split]))
            except ModuleNotFoundError:
                continue
            for name in parts[split:]:
                found = getattr(found, name, None)
            if found is None:
                missing.append(token)
            break
        else:
            missing.append(token)
    return sorted(missing)


def missing_commands(code: list[str]) -> tuple[list[str], list[str]]:
    """(make targets, manage.py commands) named but not there."""
    targets, commands = make_targets(), set(get_commands())
    make, manage = set(), set()
    for snippet in code:
        make.update(MAKE.findall(snippet))
        manage.update(MANAGE.findall(snippet))
    return sorted(make - targets), sorted(manage - commands)


def anchor(heading: str) -> str:
    """The fragment a heading gets on GitHub and most Markdown viewers."""
    slug = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return slug.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    text = FENCE.sub("", path.read_text())
    return {anchor(h) for h in re.findall(r"^#{1,6}\s+(.+)$", text, re.MULTILINE)}


def broken_links(path: Path) -> list[str]:
    broken = []
    for target in LINK.findall(FENCE.sub("", path.read_text())):
        if re.match(r"^[a-z]+:", target):
            continue  # https:, mailto:
        file, _, fragment = target.partition("#")
        linked = (path.parent / file).resolve() if file else path
        unknown_heading = (
            fragment and linked.suffix == ".md" and fragment not in anchors(linked)
        )
        if not linked.exists() or unknown_heading:
            broken.append(target)
    return broken


def name(path: Path) -> str:
    return str(path.relative_to(ROOT))


def test_the_documents_are_found():
    assert {name(path) for path in DOCS} >= {
        "README.md",
        "docs/operations.md",
        "docs/email.md",
        "docs/editorial.md",
        "docs/development.md",
        "docs/performance.md",
    }


@pytest.mark.parametrize("path", DOCS, ids=name)
def test_every_make_target_and_command_named_exists(path):
    make, manage = missing_commands(code_in(path.read_text()))

    assert make == [], f"{name(path)} names make targets the Makefile lacks"
    assert manage == [], f"{name(path)} names manage.py commands that do not exist"


@pytest.mark.parametrize("path", DOCS, ids=name)
def test_every_repository_path_named_exists(path):
    assert missing_paths(code_in(path.read_text())) == [], (
        f"{name(path)} names files or folders the repository lacks"
    )


@pytest.mark.parametrize("path", DOCS, ids=name)
def test_every_project_module_and_name_named_exists(path):
    assert missing_names(code_in(path.read_text())) == [], (
        f"{name(path)} names modules or names in them that do not exist"
    )


@pytest.mark.parametrize("path", DOCS, ids=name)
def test_every_link_between_the_documents_leads_somewhere(path):
    assert broken_links(path) == [], f"{name(path)} links to nothing"


def test_the_readme_is_an_entry_page_with_the_two_commands_first():
    text = (ROOT / "README.md").read_text()
    first_block = FENCE.search(text)[1]

    assert len(text.splitlines()) <= README_MOST_LINES
    assert [line.split()[:2] for line in first_block.splitlines()] == [
        ["make", "run"],
        ["make", "test"],
    ]


def test_the_checks_find_what_does_not_exist():
    text = """
Run `make nothing-such`, then `manage.py no_such_command`, see
`core/no_such_file.py`, `templates/no_such/*.html` and `core.no_such_module`,
`core.pagecache.NoSuchName`.

```sh
make lint && .venv/bin/python manage.py migrate
.venv/bin/python bench/no_such_bench.py
```
"""
    code = code_in(text)

    assert missing_commands(code) == (["nothing-such"], ["no_such_command"])
    assert missing_paths(code) == [
        "bench/no_such_bench.py",
        "core/no_such_file.py",
        "templates/no_such/*.html",
    ]
    assert missing_names(code) == ["core.no_such_module", "core.pagecache.NoSuchName"]


def test_the_checks_accept_what_exists(tmp_path):
    doc = tmp_path / "doc.md"
    doc.write_text(
        "# A heading, here\n\n[self](#a-heading-here) [out](https://x.org)\n"
    )
    code = code_in(
        "`make run`, `manage.py db_worker`, `core/pagecache.py`, `core/editor/`, "
        "`articles/migrations/0005_*`, `core.pagecache.PageCacheMiddleware`, "
        "`core.E002`, `skincare.example`, `sent-emails/`"
    )

    assert missing_commands(code) == ([], [])
    assert missing_paths(code) == []
    assert missing_names(code) == []
    assert broken_links(doc) == []
    doc.write_text("# Heading\n\n[self](#another) [file](nowhere.md)\n")
    assert broken_links(doc) == ["#another", "nowhere.md"]
