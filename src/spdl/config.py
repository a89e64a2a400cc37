"""Config validation against ``workflow/schemas``, with errors that name the key.

``config.schema.yaml`` describes the top-level keys; every other
``<section>.schema.yaml`` in the same folder describes ``config[<section>]``
(one per study, plus ``data``). A new study therefore adds its own schema file
and touches nothing else.
"""

from __future__ import annotations

import copy
import math
import re
from pathlib import Path

import jsonschema
import yaml
from referencing import Registry
from referencing.jsonschema import DRAFT202012

CORE_SCHEMA = "config.schema.yaml"


class ConfigError(ValueError):
    """Raised with one line per problem, each naming the offending key."""


def load_schema(schema_dir) -> dict:
    """The core schema with every section schema attached as a required property."""
    schema_dir = Path(schema_dir)
    schema = yaml.safe_load((schema_dir / CORE_SCHEMA).read_text())
    schema.setdefault("properties", {})
    schema.setdefault("required", [])
    for path in sorted(schema_dir.glob("*.schema.yaml")):
        if path.name == CORE_SCHEMA:
            continue
        section = path.name.removesuffix(".schema.yaml")
        sub = yaml.safe_load(path.read_text())
        sub.setdefault("$id", f"urn:spdl:schema:{section}")  # local "#/$defs/..." refs resolve in the section
        schema["properties"][section] = sub
        schema["required"].append(section)
    return schema


def validate_config(config: dict, schema_dir) -> None:
    """Raise :class:`ConfigError` listing every violation as ``key: problem``."""
    schema = load_schema(schema_dir)
    sections = [sub for sub in schema["properties"].values() if "$id" in sub]
    # every section schema registered and crawled once: "#/$defs/..." lookups then cost nothing
    registry = Registry().with_resources((sub["$id"], DRAFT202012.create_resource(sub)) for sub in sections).crawl()
    validator = jsonschema.Draft202012Validator(schema, registry=registry)
    errors = sorted(validator.iter_errors(config), key=lambda e: list(map(str, e.absolute_path)))
    lines = [f"  - {_describe(e)}" for e in errors]
    lines += [f"  - key {key}: {value} is not a finite number" for key, value in _non_finite(config)]
    if lines:
        raise ConfigError("invalid configuration:\n" + "\n".join(lines))


def _non_finite(node, path=""):
    """(dotted key, value) of every NaN or infinite number in a nested config."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _non_finite(v, f"{path}.{k}" if path else str(k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _non_finite(v, f"{path}.{i}")
    elif isinstance(node, float) and not math.isfinite(node):
        yield path, node


def _describe(error: jsonschema.ValidationError) -> str:
    path = ".".join(str(p) for p in error.absolute_path)
    if error.validator == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        keys = ", ".join(f"{path}.{k}" if path else k for k in extra)
        return f"unknown key {keys}"
    if error.validator == "required":
        missing = error.message.split("'")[1]
        return f"missing key {path + '.' if path else ''}{missing}"
    return f"key {path or '<root>'}: {error.message}"


def load_config(paths, schema_dir) -> dict:
    """Merge YAML files left to right (like ``--configfile``) and validate the result."""
    config: dict = {}
    for p in paths:
        merge(config, yaml.safe_load(Path(p).read_text()) or {})
    validate_config(config, schema_dir)
    return config


def merge(base: dict, override: dict) -> dict:
    """Recursive dict update, as Snakemake applies ``--configfile`` overrides."""
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            merge(base[key], value)
        else:
            base[key] = value
    return base


def set_values(config: dict, assignments) -> dict:
    """The override that ``KEY=VALUE`` assignments make to ``config``, as a nested dict for ``--configfiles``.

    KEY is dotted (``deep_linear.dynamics.snr``; an integer indexes a list: ``deep_linear.dynamics.depths.1.lr``),
    VALUE is YAML (``[3, 5, 6]``, ``1e-3``, ``null``). A list that is indexed into is copied whole, since a config
    file replaces lists rather than merging them.
    """
    override: dict = {}
    for item in assignments:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"override {item!r}: expected KEY=VALUE")
        parts, value = key.split("."), yaml.safe_load(text)
        if isinstance(value, str) and re.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+", value):
            value = float(value)  # YAML 1.1 reads 2e-3 (no dot) as a string
        node, out = config, override
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            if isinstance(node, list):
                if not part.isdigit() or int(part) >= len(node):
                    raise ConfigError(f"override {key}: {part!r} is not an index of a {len(node)}-entry list")
                part = int(part)
            elif not isinstance(node, dict) or part not in node:
                raise ConfigError(f"override {key}: unknown key {'.'.join(parts[:i + 1])}")
            if last:
                out[part] = value
            elif isinstance(node[part], list):
                out.setdefault(part, copy.deepcopy(node[part]))
                node, out = node[part], out[part]
            else:  # inside a copied list the entry exists already
                node, out = node[part], out[part] if isinstance(out, list) else out.setdefault(part, {})
    return override


def read_config_file(path) -> dict:
    """A config file as a mapping; a missing, binary or malformed file is named in the error."""
    try:
        doc = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        raise ConfigError(f"config file {path} cannot be read as YAML text ({type(err).__name__}: {err})") from None
    if doc is not None and not isinstance(doc, dict):
        raise ConfigError(f"config file {path}: expected a mapping of sections, got {type(doc).__name__}")
    return doc or {}


def main(argv=None) -> None:
    """``python -m spdl.config [--configfile F ...] [KEY=VALUE ...]``: print the override file as YAML.

    Without assignments it only checks that the config files can be read (``make`` runs it before
    Snakemake, whose own reader fails on a binary file with a bare traceback).
    """
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--configfile", action="append", default=[], help="config files, merged in order")
    parser.add_argument("assignments", nargs="*", metavar="KEY=VALUE")
    args = parser.parse_args(argv)
    config: dict = {}
    try:
        for p in args.configfile:
            merge(config, read_config_file(p))
        if args.assignments:
            print(yaml.safe_dump(set_values(config, args.assignments), sort_keys=False), end="")
    except ConfigError as err:
        raise SystemExit(f"error: {err}") from None


if __name__ == "__main__":
    main()
