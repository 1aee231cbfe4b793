#!/usr/bin/env python3
"""Renders deploy/helm/edgemq the way `helm template` does, for the subset of Helm's template
language the chart uses: {{ .Values.a.b }}, {{ .Release.Name }}, {{ .Chart.Name }}, if/else/end,
and the functions quote, toYaml, indent and nindent, with {{- -}} whitespace trimming. Anything
else is an error, so a template that drifts beyond the subset fails the tests instead of
rendering wrongly. helm is not packaged in Debian 12; where it is installed, it renders the same.

Usage: render-chart.py CHART_DIR [--release NAME] [--set a.b=value ...]  (YAML on stdout)
"""
import argparse
import os
import re
import sys

import yaml

ACTION = re.compile(r"\{\{(-?)\s*(.*?)\s*(-?)\}\}", re.S)


class TemplateError(Exception):
    pass


def lookup(path, ctx):
    if not path.startswith("."):
        raise TemplateError("unsupported term %r" % path)
    node = ctx
    for part in path[1:].split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def to_text(v):
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def truthy(v):
    return not (v is None or v is False or v == 0 or v == "" or v == [] or v == {})


def evaluate(pipeline, ctx):
    stages = [s.strip() for s in pipeline.split("|")]
    words = stages[0].split()
    if len(words) == 1:
        value = lookup(words[0], ctx)
    elif words[0] == "toYaml" and len(words) == 2:
        value = yaml.safe_dump(lookup(words[1], ctx), default_flow_style=False, sort_keys=False).rstrip("\n")
    else:
        raise TemplateError("unsupported expression %r" % stages[0])
    for stage in stages[1:]:
        fn, *args = stage.split()
        if fn == "quote" and not args:
            value = '"%s"' % to_text(value).replace("\\", "\\\\").replace('"', '\\"')
        elif fn in ("indent", "nindent") and len(args) == 1:
            pad = " " * int(args[0])
            value = "\n".join(pad + line if line else line for line in to_text(value).split("\n"))
            if fn == "nindent":
                value = "\n" + value
        else:
            raise TemplateError("unsupported function %r" % stage)
    return value


def render(text, ctx):
    # Tokens: ("text", s) and ("action", body); trimming applied while tokenizing.
    tokens, pos = [], 0
    for m in ACTION.finditer(text):
        literal = text[pos:m.start()]
        if m.group(1):
            literal = literal.rstrip(" \t\r\n")
        tokens.append(("text", literal))
        tokens.append(("action", m.group(2), bool(m.group(3))))
        pos = m.end()
    tokens.append(("text", text[pos:]))
    for i, t in enumerate(tokens):  # a -}} trims the whitespace that follows it
        if t[0] == "action" and t[2] and i + 1 < len(tokens):
            tokens[i + 1] = ("text", tokens[i + 1][1].lstrip(" \t\r\n"))

    out, stack = [], []  # stack of (this branch active, any branch taken, parent active)
    active = True
    for t in tokens:
        if t[0] == "text":
            if active:
                out.append(t[1])
            continue
        body = t[1]
        if body.startswith("/*"):
            continue
        if body.startswith("if "):
            cond = active and truthy(evaluate(body[3:], ctx))
            stack.append((active, cond))
            active = cond
        elif body == "else":
            if not stack:
                raise TemplateError("else without if")
            parent, taken = stack[-1]
            active = parent and not taken
        elif body == "end":
            if not stack:
                raise TemplateError("end without if")
            active = stack.pop()[0]
        elif active:
            out.append(to_text(evaluate(body, ctx)))
    if stack:
        raise TemplateError("if without end")
    return "".join(out)


def set_value(values, assignment):
    path, _, raw = assignment.partition("=")
    node = values
    keys = path.split(".")
    for k in keys[:-1]:
        node = node.setdefault(k, {})
    node[keys[-1]] = yaml.safe_load(raw)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("chart")
    ap.add_argument("--release", default="edgemq")
    ap.add_argument("--set", action="append", default=[])
    a = ap.parse_args()
    with open(os.path.join(a.chart, "Chart.yaml")) as f:
        chart = yaml.safe_load(f)
    with open(os.path.join(a.chart, "values.yaml")) as f:
        values = yaml.safe_load(f) or {}
    for s in a.set:
        set_value(values, s)
    ctx = {"Values": values, "Release": {"Name": a.release, "Namespace": "default"},
           "Chart": {"Name": chart["name"], "Version": chart["version"], "AppVersion": chart.get("appVersion")}}
    tdir = os.path.join(a.chart, "templates")
    docs = []
    for name in sorted(os.listdir(tdir)):
        if not name.endswith(".yaml"):
            continue
        with open(os.path.join(tdir, name)) as f:
            try:
                docs.append("# Source: %s/templates/%s\n%s" % (chart["name"], name, render(f.read(), ctx).strip("\n")))
            except TemplateError as e:
                sys.exit("render-chart: %s: %s" % (name, e))
    sys.stdout.write("---\n" + "\n---\n".join(docs) + "\n")


if __name__ == "__main__":
    main()
