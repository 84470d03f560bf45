"""GET /v1/models: the bots, by slug, as OpenAI models."""

import pytest

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_bots_are_listed_as_models_by_their_slug(api, bots):
    models = api.models.list()

    assert [model.id for model in models] == ["assistant", "team-faq"]
    assert {model.object for model in models} == {"model"}
    assert models.data[1].model_extra["name"] == "Team FAQ"
    assert api.models.retrieve("team-faq").id == "team-faq"
