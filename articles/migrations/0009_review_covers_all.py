"""The medical approval covers everything readers are shown, and names the
reviewer as they were when approving.

- Each revision's review_hash is worked out again over every field a reader, a
  search result or a share card shows (articles/revisions.py REVIEWED, frozen
  here as it is now); each approval takes the new hash of the revision it
  approved.
- A published article whose live version is no longer covered by an approval
  (it differed from the approved one only in fields the old hash left out, such
  as the evidence label or SEO description) loses its "Medically reviewed by"
  line and returns to the reviewers' queue.
- Approvals and articles keep the reviewer's name and credentials as they are
  now: from here on, a later edit of the profile does not change them.
"""

import hashlib
import json

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


REVIEWED = (
    "title",
    "slug",
    "summary",
    "body",
    "seo_title",
    "seo_description",
    "cover_image",
    "cover_image_alt",
    "author_id",
    "topic_id",
    "evidence",
    "medical",
    "sources",
)


def review_hash(data):
    reviewed = {name: data.get(name) for name in REVIEWED}
    text = json.dumps(reviewed, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def forwards(apps, schema_editor):
    Article = apps.get_model("articles", "Article")
    ArticleRevision = apps.get_model("articles", "ArticleRevision")
    MedicalApproval = apps.get_model("articles", "MedicalApproval")
    for revision in ArticleRevision.objects.only("data", "review_hash").iterator():
        new = review_hash(revision.data)
        if new != revision.review_hash:
            ArticleRevision.objects.filter(pk=revision.pk).update(review_hash=new)
    approvals = MedicalApproval.objects.select_related("revision", "reviewer")
    for approval in approvals.iterator():
        MedicalApproval.objects.filter(pk=approval.pk).update(
            review_hash=review_hash(approval.revision.data),
            reviewer_name=approval.reviewer.name,
            reviewer_credentials=approval.reviewer.credentials,
        )
    reviewed = Article.objects.filter(reviewer__isnull=False).select_related(
        "reviewer", "live_revision"
    )
    for article in reviewed.iterator():
        live = article.live_revision
        covered = live is None or MedicalApproval.objects.filter(
            article=article, review_hash=review_hash(live.data)
        ).exists()
        if covered:
            Article.objects.filter(pk=article.pk).update(
                reviewer_name=article.reviewer.name,
                reviewer_credentials=article.reviewer.credentials,
            )
        else:
            Article.objects.filter(pk=article.pk).update(
                reviewer=None, reviewed_at=None, review_due=None
            )


class Migration(migrations.Migration):

    dependencies = [
        ('articles', '0008_prepared_head_cards'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name='article',
            name='reviewer_credentials',
            field=models.CharField(blank=True, editable=False, help_text="The reviewer's credentials when they approved the live version: what readers are shown, even if the profile changes later.", max_length=120),
        ),
        migrations.AddField(
            model_name='article',
            name='reviewer_name',
            field=models.CharField(blank=True, editable=False, help_text="The reviewer's name as the approval of the live version has it.", max_length=120),
        ),
        migrations.AddField(
            model_name='medicalapproval',
            name='reviewer_credentials',
            field=models.CharField(default='', help_text="The reviewer's credentials when they approved: what readers are shown for this approval.", max_length=120),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name='medicalapproval',
            name='reviewer_name',
            field=models.CharField(default='', help_text="The reviewer's name when they approved.", max_length=120),
            preserve_default=False,
        ),
        migrations.AlterField(
            model_name='articlerevision',
            name='review_hash',
            field=models.CharField(help_text='A digest of what a medical approval covers: everything the revision holds that readers see (articles/revisions.py REVIEWED).', max_length=64),
        ),
        migrations.AlterField(
            model_name='medicalapproval',
            name='reviewer',
            field=models.ForeignKey(help_text="The reviewer's byline.", on_delete=django.db.models.deletion.PROTECT, related_name='approvals', to='articles.author'),
        ),
        migrations.CreateModel(
            name='AuthorChange',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('field', models.CharField(max_length=20)),
                ('old_value', models.CharField(blank=True, max_length=200)),
                ('new_value', models.CharField(blank=True, max_length=200)),
                ('at', models.DateTimeField(default=django.utils.timezone.now)),
                ('author', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='changes', to='articles.author')),
                ('changed_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'ordering': ['-at', '-pk'],
            },
        ),
        migrations.CreateModel(
            name='MedicalFlagChange',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('medical', models.BooleanField(help_text='The flag after the change.')),
                ('at', models.DateTimeField(default=django.utils.timezone.now)),
                ('reason', models.TextField(blank=True, max_length=2000)),
                ('actor', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('article', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='medical_changes', to='articles.article')),
                ('topic', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='medical_changes', to='articles.topic')),
            ],
            options={
                'ordering': ['-at', '-pk'],
                'constraints': [models.CheckConstraint(condition=models.Q(models.Q(('article__isnull', False), ('topic__isnull', True)), models.Q(('article__isnull', True), ('topic__isnull', False)), _connector='OR'), name='medical_change_one_subject'), models.CheckConstraint(condition=models.Q(('medical', True), models.Q(('reason', ''), _negated=True), _connector='OR'), name='medical_change_off_has_reason', violation_error_message='Say why it is not medical.')],
            },
        ),
        migrations.RunPython(forwards, migrations.RunPython.noop),
    ]
