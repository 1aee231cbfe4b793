"""Validates admin API responses against docs/openapi.yaml: the status must be documented for the
operation, and a JSON body must match the documented schema (OpenAPI 3.1 schemas are JSON Schema
2020-12; python3-jsonschema checks them, $refs resolved against the whole document)."""

import json
import os
import re

import jsonschema
import yaml

from support.constants import REPO_ROOT

SPEC_PATH = os.path.join(REPO_ROOT, "docs", "openapi.yaml")

with open(SPEC_PATH) as f:
    SPEC = yaml.safe_load(f)


def _operation(path, method):
    """The path template matching `path` (query stripped) and its operation for `method`."""
    path = path.split("?", 1)[0]
    found = None
    for template, item in SPEC["paths"].items():
        pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^?]+", re.escape(template)) + "$"
        if re.match(pattern, path):
            op = item.get(method.lower())
            if op is not None:
                return template, op
            # A parameter may contain '/' (client ids, topics, keys): another template with more
            # levels may match too; the one documenting the method wins.
            found = found or template
    return found, None


def _resolve(obj):
    while isinstance(obj, dict) and "$ref" in obj:
        node = SPEC
        for part in obj["$ref"].lstrip("#/").split("/"):
            node = node[part]
        obj = node
    return obj


def error_schema():
    return SPEC["components"]["schemas"]["Error"]


def validate_json(instance, schema):
    """jsonschema validation of `instance` against `schema` ($refs into the OpenAPI document)."""
    cls = jsonschema.validators.validator_for({"$schema": "https://json-schema.org/draft/2020-12/schema"})
    resolver = jsonschema.RefResolver(base_uri="", referrer=SPEC)
    cls(schema, resolver=resolver).validate(instance)


def validate(method, path, status, content_type, body):
    """Raises AssertionError (or jsonschema.ValidationError) when the response does not match the
    document. Undocumented paths are expected to answer the JSON Error schema (404/405)."""
    template, op = _operation(path, method)
    if op is None:
        if status not in (404, 405):
            raise AssertionError("%s %s -> %d: not in %s" % (method, path, status, SPEC_PATH))
        validate_json(json.loads(body), error_schema())
        return
    responses = op["responses"]
    if str(status) not in responses:
        raise AssertionError("%s %s -> %d: status not documented for %s" % (method, path, status, template))
    response = _resolve(responses[str(status)])
    content = response.get("content")
    if not content:
        if body:
            raise AssertionError("%s %s -> %d: documented without a body, got %r" % (method, path, status, body[:200]))
        return
    media = content_type.split(";", 1)[0].strip()
    if media not in content:
        raise AssertionError("%s %s -> %d: content type %r not documented (%s)" % (method, path, status, media,
                                                                                  list(content)))
    if media == "application/json":
        validate_json(json.loads(body), content[media]["schema"])
