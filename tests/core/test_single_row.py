"""The site-wide texts kept in one row each (core.models.SingleRowModel) and their
admin (core.admin.SingleRowAdmin): the database refuses a second row, the list
opens the one row, and it can be added only while missing, never deleted."""

import pytest
from django.apps import apps
from django.contrib import admin
from django.db import IntegrityError, transaction
from django.urls import reverse

from core.admin import SingleRowAdmin
from core.models import SingleRowModel
from tests.factories import make_user

pytestmark = pytest.mark.django_db

SINGLE_ROW_MODELS = sorted(
    (m for m in apps.get_models() if issubclass(m, SingleRowModel)),
    key=lambda m: m._meta.label,
)


def test_the_single_row_models_are_the_site_wide_texts():
    assert [m._meta.label for m in SINGLE_ROW_MODELS] == [
        "articles.EditorialPolicy",
        "articles.HomePage",
        "newsletter.WelcomeEmail",
    ]


@pytest.mark.parametrize("model", SINGLE_ROW_MODELS, ids=lambda m: m.__name__)
def test_each_keeps_its_own_constraint_name(model):
    names = [c.name for c in model._meta.constraints]
    assert f"{model._meta.model_name}_single_row" in names


@pytest.mark.parametrize("model", SINGLE_ROW_MODELS, ids=lambda m: m.__name__)
def test_the_database_refuses_a_second_row(model):
    model.objects.all().delete()
    model.objects.create(**required_fields(model))
    with pytest.raises(IntegrityError), transaction.atomic():
        model.objects.create(id=2, **required_fields(model))
    assert model.objects.count() == 1


@pytest.mark.parametrize("model", SINGLE_ROW_MODELS, ids=lambda m: m.__name__)
def test_current_is_the_row_or_none(model):
    model.objects.all().delete()
    assert model.current() is None
    row = model.objects.create(**required_fields(model))
    assert model.current() == row


@pytest.mark.parametrize("model", SINGLE_ROW_MODELS, ids=lambda m: m.__name__)
def test_every_single_row_model_has_the_single_row_admin(model):
    assert isinstance(admin.site._registry[model], SingleRowAdmin)


@pytest.mark.parametrize("model", SINGLE_ROW_MODELS, ids=lambda m: m.__name__)
def test_the_list_opens_the_add_form_then_the_one_row(model, staff_client):
    opts = model._meta
    changelist = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
    model.objects.all().delete()
    response = staff_client.get(changelist)
    assert response.status_code == 302
    assert response["Location"] == reverse(
        f"admin:{opts.app_label}_{opts.model_name}_add"
    )
    row = model.objects.create(**required_fields(model))
    response = staff_client.get(changelist)
    assert response["Location"] == reverse(
        f"admin:{opts.app_label}_{opts.model_name}_change", args=[row.pk]
    )


@pytest.mark.parametrize("model", SINGLE_ROW_MODELS, ids=lambda m: m.__name__)
def test_added_only_while_missing_and_never_deleted(model, rf, staff):
    model_admin = admin.site._registry[model]
    request = rf.get("/")
    request.user = staff
    model.objects.all().delete()
    assert model_admin.has_add_permission(request)
    row = model.objects.create(**required_fields(model))
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_delete_permission(request)
    assert not model_admin.has_delete_permission(request, row)


@pytest.mark.parametrize("model", SINGLE_ROW_MODELS, ids=lambda m: m.__name__)
def test_the_list_is_refused_to_staff_without_permission(model, client):
    opts = model._meta
    clerk = make_user(username="clerk")
    clerk.is_staff = True
    clerk.save()
    client.force_login(clerk)
    response = client.get(
        reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
    )
    assert response.status_code == 403


def required_fields(model) -> dict:
    """What a row needs besides its defaults: some text in each required field."""
    return {
        field.name: "Some words"
        for field in model._meta.concrete_fields
        if not field.blank
        and not field.has_default()
        and not field.primary_key
        and not getattr(field, "auto_now", False)
    }
