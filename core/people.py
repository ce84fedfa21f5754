"""How staff accounts are named: one name everywhere (dropdowns, history,
bylines). An account's first and last name hold the name its owner gave at
acceptance of their invitation, kept equal to their author profile's name when
they have one (articles.services.save_author)."""


def split_name(name: str) -> tuple[str, str]:
    """(first_name, last_name) for a user whose full name is `name`: the last
    word is the last name, so get_full_name() gives `name` back."""
    words = name.split()
    if len(words) < 2:
        return " ".join(words), ""
    return " ".join(words[:-1]), words[-1]


def display_name(user) -> str:
    """The name staff pages show for an account: its full name, else its
    username."""
    return user.get_full_name() or user.get_username()
