"""The core (chatapp.chat, inference) names no feature app, where import-linter cannot see it either.

A feature plugs in through chatapp.chat.extensions. What would break the core
at run time if a feature app were removed is reported here: a core template
that loads a feature's tags, includes its templates, reverses its URLs or
links its static files; core Python that reads a relation a feature model
adds to a core model (`message.images.all()`, `getattr(reply,
"completion_request")`), prefetches it or filters by it.

The feature apps are the ones the import contract in pyproject.toml forbids
the core to import; their names, templates, tags and relations are read from
Django, so a new feature is covered without editing this file.

`make check` runs this file as a script (no database needed); the suite runs
it as tests.
"""

from __future__ import annotations

import ast
import os
import re
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORE_CONTRACT = "the core knows nothing of the features that plug into it"
# Manager and queryset methods: `x.<relation>.<one of these>` reads a relation.
MANAGER_METHODS = {
    "all", "count", "exists", "filter", "exclude", "get", "first", "last", "values", "values_list",
    "set", "add", "remove", "clear", "create", "update", "delete", "order_by", "annotate", "aggregate",
}  # fmt: skip
QUERY_METHODS = {
    "filter", "exclude", "get", "get_or_create", "update_or_create", "update", "annotate",
    "order_by", "values", "values_list", "aggregate", "only", "defer",
}  # fmt: skip
PREFETCHES = {"prefetch_related", "select_related", "prefetch_related_objects", "Prefetch"}


@dataclass
class FeatureNames:
    """What belongs to the feature apps, as the core could name it."""

    tag_libraries: set[str] = field(default_factory=set)
    templates: set[str] = field(default_factory=set)
    url_namespaces: set[str] = field(default_factory=set)
    static_prefixes: set[str] = field(default_factory=set)
    relations: set[str] = field(default_factory=set)  # reverse accessors on core models
    object_relations: set[str] = field(default_factory=set)  # of them, those holding one object


def import_contract() -> tuple[list[str], list[str]]:
    """(core modules, feature modules) as pyproject.toml's import contract lists them."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    for contract in config["tool"]["importlinter"]["contracts"]:
        if contract["name"] == CORE_CONTRACT:
            return contract["source_modules"], contract["forbidden_modules"]
    raise LookupError(f"pyproject.toml has no import contract named {CORE_CONTRACT!r}")


def feature_names() -> FeatureNames:
    from django.apps import apps

    core_modules, feature_modules = import_contract()
    names = FeatureNames()
    features = [config for config in apps.get_app_configs() if config.name in feature_modules]
    for config in features:
        folder = Path(config.path)
        names.tag_libraries |= {path.stem for path in (folder / "templatetags").glob("*.py") if path.stem != "__init__"}
        templates = folder / "templates"
        names.templates |= {path.relative_to(templates).as_posix() for path in templates.rglob("*.html")}
        names.url_namespaces.add(config.label)
        names.static_prefixes.add(f"{config.label}/")
    feature_models = {model for config in features for model in config.get_models()}
    for config in apps.get_app_configs():
        if config.name not in core_modules:
            continue
        for model in config.get_models():
            for relation in model._meta.get_fields(include_hidden=False):
                if relation.is_relation and relation.related_model in feature_models:
                    accessor = relation.get_accessor_name() if relation.auto_created else relation.name
                    names.relations.add(accessor)
                    if relation.one_to_one or relation.many_to_one:
                        names.object_relations.add(accessor)
    return names


TAG = re.compile(r"{%-?\s*(.*?)\s*-?%}|{{\s*(.*?)\s*}}", re.S)


def template_violations(text: str, names: FeatureNames) -> list[str]:
    found = []
    for match in TAG.finditer(text):
        tag, variable = match.group(1), match.group(2)
        line = text.count("\n", 0, match.start()) + 1
        body = tag if tag is not None else variable
        words = body.split()
        if tag is not None and words and words[0] == "load":
            found += [f"line {line}: loads {lib!r}" for lib in words[1:] if lib in names.tag_libraries]
        if tag is not None and words and words[0] in ("include", "extends") and len(words) > 1:
            included = words[1].strip("\"'")
            if included in names.templates:
                found.append(f"line {line}: {words[0]}s {included!r}")
        if tag is not None and words and words[0] == "url" and len(words) > 1:
            namespace = words[1].strip("\"'").partition(":")[0]
            if ":" in words[1] and namespace in names.url_namespaces:
                found.append(f"line {line}: reverses {words[1]}")
        if tag is not None and words and words[0] == "static" and len(words) > 1:
            path = words[1].strip("\"'")
            if any(path.startswith(prefix) for prefix in names.static_prefixes):
                found.append(f"line {line}: links {path!r}")
        for relation in names.relations:
            if re.search(rf"\.{re.escape(relation)}\b", body):
                found.append(f"line {line}: reads .{relation}")
    return found


def _strings(node: ast.AST) -> list[str]:
    return [item.value for item in ast.walk(node) if isinstance(item, ast.Constant) and isinstance(item.value, str)]


def python_violations(source: str, names: FeatureNames) -> list[str]:
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute):
            inner = node.value
            if isinstance(inner, ast.Attribute) and inner.attr in names.relations and node.attr in MANAGER_METHODS:
                found.append((node.lineno, f"reads .{inner.attr}.{node.attr}"))
            if node.attr in names.object_relations:
                found.append((node.lineno, f"reads .{node.attr}"))
        if not isinstance(node, ast.Call):
            continue
        called = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        if called in ("getattr", "hasattr", "setattr") and len(node.args) > 1:
            found += [(node.lineno, f"{called} {text!r}") for text in _strings(node.args[1]) if text in names.relations]
        if called in PREFETCHES:
            for text in (text for arg in node.args for text in _strings(arg)):
                if set(text.split("__")) & names.relations:
                    found.append((node.lineno, f"{called} {text!r}"))
        if called in QUERY_METHODS:
            for keyword in node.keywords:
                if keyword.arg and keyword.arg.split("__")[0] in names.relations:
                    found.append((node.lineno, f"{called}({keyword.arg}=...)"))
    return [f"line {line}: {text}" for line, text in sorted(found, key=lambda item: item[0])]


def core_files() -> tuple[list[Path], list[Path]]:
    """(templates, Python modules) of the core: chatapp.chat and inference, migrations aside."""
    core_modules, _ = import_contract()
    folders = [ROOT / module.replace(".", "/") for module in [*core_modules, "inference"]]
    templates = sorted(path for folder in folders for path in folder.rglob("*.html"))
    modules = sorted(path for folder in folders for path in folder.rglob("*.py") if "migrations" not in path.parts)
    return templates, modules


def violations() -> list[str]:
    names = feature_names()
    templates, modules = core_files()
    found = []
    for path in templates:
        found += [f"{path.relative_to(ROOT)} {item}" for item in template_violations(path.read_text(), names)]
    for path in modules:
        found += [f"{path.relative_to(ROOT)} {item}" for item in python_violations(path.read_text(), names)]
    return found


def test_the_core_names_no_feature_app():
    assert violations() == []


def test_the_features_own_names_are_found():
    names = feature_names()
    assert {"images", "images_left_out", "feedback", "completion_request"} <= names.relations
    assert "completion_request" in names.object_relations
    assert {"images", "faq"} <= names.tag_libraries
    assert "review/feedback.html" in names.templates


def test_a_core_template_that_names_a_feature_is_reported():
    template = """{% load static faq %}
<link href="{% static 'review/feedback.css' %}">{% url 'review:feedback' 0 %}
{% for image in message.images.all %}{% include "images/thumbnail.html" %}{% endfor %}"""
    assert template_violations(template, feature_names()) == [
        "line 1: loads 'faq'",
        "line 2: links 'review/feedback.css'",
        "line 2: reverses 'review:feedback'",
        "line 3: reads .images",
        "line 3: includes 'images/thumbnail.html'",
    ]


def test_core_python_that_names_a_feature_is_reported():
    source = """
prefetch_related_objects(branch, "images", "feedback")
count = original.images.count()
asked = getattr(reply, "completion_request", None)
limit = reply.completion_request.max_tokens
Message.objects.filter(feedback__vote="down")
"""
    assert python_violations(source, feature_names()) == [
        "line 2: prefetch_related_objects 'images'",
        "line 2: prefetch_related_objects 'feedback'",
        "line 3: reads .images.count",
        "line 4: getattr 'completion_request'",
        "line 5: reads .completion_request",
        "line 6: filter(feedback__vote=...)",
    ]


def test_the_core_may_use_the_same_words_for_its_own_things():
    source = """
turn.images = registry.images.for_messages(turn.messages, model)
validate_question(turn.text, images=turn.images)
event = {"images": [], "images_left_out": 0}
"""
    assert python_violations(source, feature_names()) == []


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatapp.settings")
    import django

    django.setup()
    found = violations()
    for item in found:
        print(item)
    if found:
        print(f"{len(found)} place(s) in the core name a feature app: go through chatapp/chat/extensions.py.")
        sys.exit(1)
    print("The core names no feature app.")
