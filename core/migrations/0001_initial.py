import django.utils.timezone
from django.db import migrations, models


def create_row(apps, schema_editor):
    apps.get_model("core", "PageVersion").objects.get_or_create(id=1)


class Migration(migrations.Migration):
    initial = True

    dependencies = []

    operations = [
        migrations.CreateModel(
            name="PageVersion",
            fields=[
                (
                    "id",
                    models.PositiveSmallIntegerField(
                        default=1, primary_key=True, serialize=False
                    ),
                ),
                ("version", models.PositiveBigIntegerField(default=1)),
                (
                    "changed_at",
                    models.DateTimeField(
                        default=django.utils.timezone.now,
                        help_text="When public pages last changed: their Last-Modified.",
                    ),
                ),
                (
                    "next_change_at",
                    models.DateTimeField(
                        blank=True,
                        null=True,
                        help_text=(
                            "When pages change by themselves next (a scheduled "
                            "article's publish time): no cached page is served past it."
                        ),
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(("id", 1)), name="core_pageversion_one_row"
                    )
                ]
            },
        ),
        migrations.RunPython(create_row, migrations.RunPython.noop),
    ]
