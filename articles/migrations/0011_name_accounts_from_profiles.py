"""Accounts linked to a person's author profile before invitations take its name
as their first and last name, where they have none, so staff pages show the one
name readers see (articles.services.save_author keeps it so from now on)."""

from django.db import migrations


def name_accounts(apps, schema_editor):
    Author = apps.get_model("articles", "Author")
    User = apps.get_model("auth", "User")
    profiles = Author.objects.filter(
        kind="person", user__isnull=False, user__first_name="", user__last_name=""
    )
    for author in profiles.only("name", "user_id"):
        words = author.name.split()
        first, last = (
            (" ".join(words[:-1]), words[-1])
            if len(words) > 1
            else (" ".join(words), "")
        )
        User.objects.filter(pk=author.user_id).update(first_name=first, last_name=last)


class Migration(migrations.Migration):
    dependencies = [
        ("articles", "0010_article_planned_for"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(name_accounts, migrations.RunPython.noop)]
