"""Load a YAML file into a pydantic model, reporting every problem as ``file:line: field.path: what was expected``.

Every config of the project (clusters, SLOs, fleets, playbooks, the webhook's) goes through :func:`load_model`, so
that a bad file is always reported the same way: all problems at once, each with the path an operator can search
for, and never a Python traceback or the value of a secret.

Configs are read from disk by people who did not write them (ConfigMaps, shared repositories), so the loader also
bounds what a file may cost before anything is built from it: its size, its nesting depth and the number of nodes
once YAML aliases are expanded (a "billion laughs" file is a few hundred bytes that expand to 10^9 nodes). Those
limits are far above any real config and are checked in one streaming pass over PyYAML's events, before PyYAML's
recursive composer or pydantic ever see the document.

Relative paths inside a config (secret files, TLS files, other configs) are relative to the directory of the file
that names them, never to the working directory: :func:`load_model` puts that directory in the validation context
and :func:`config_dir` reads it back.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, TypeVar

import yaml
from pydantic import AfterValidator, BaseModel, ValidationError, ValidationInfo

Loc = tuple[str | int, ...]
M = TypeVar("M", bound=BaseModel)

MAX_FILE_BYTES = 16 * 1024 * 1024
"""A config file larger than this is refused unread (the largest real fleet file is well under 1 MiB)."""
MAX_DEPTH = 64
"""Deepest nesting of mappings and sequences accepted; real configs nest fewer than ten levels."""
MAX_NODES = 200_000
"""Most nodes a document may have with every alias expanded: a fleet of several thousand clusters fits."""

_TOO_DEEP = f"nested more than {MAX_DEPTH} levels deep"
_FAST_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's parser when PyYAML was built with it: the size check reads events only, ~30 times faster."""

CONFIG_DIR = "config_dir"
"""Validation-context key of the directory relative paths in the file are resolved against."""


def format_path(loc: Iterable[str | int]) -> str:
    """``('clusters', 2, 'jmx_ports')`` → ``clusters[2].jmx_ports``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


@dataclass(frozen=True)
class ConfigIssue:
    path: str
    message: str
    line: int | None = None


class ConfigError(Exception):
    """A config file that cannot be used; the CLI prints it and exits with status 2."""

    def __init__(self, source: str, issues: list[ConfigIssue]):
        self.source = source
        self.issues = issues
        super().__init__(self.render())

    def render(self) -> str:
        lines = []
        for issue in self.issues:
            where = f"{self.source}:{issue.line}" if issue.line else self.source
            lines.append(f"{where}: {issue.path}: {issue.message}")
        return "\n".join(lines)


class _Positions:
    """Line numbers of every node of a YAML document, keyed by the same paths pydantic reports."""

    def __init__(self) -> None:
        self.lines: dict[Loc, int] = {}
        self.duplicates: list[tuple[Loc, int]] = []

    def walk(self, node: yaml.Node, loc: Loc) -> None:
        self.lines[loc] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            seen: set[str] = set()
            for key_node, value_node in node.value:
                key = str(key_node.value)
                if key in seen:
                    self.duplicates.append(((*loc, key), key_node.start_mark.line + 1))
                seen.add(key)
                self.walk(value_node, (*loc, key))
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                self.walk(item, (*loc, index))

    def line_for(self, loc: Loc) -> int | None:
        """The line of ``loc`` or of its nearest ancestor that exists in the document."""
        for end in range(len(loc), -1, -1):
            line = self.lines.get(tuple(loc[:end]))
            if line is not None:
                return line
        return None


@dataclass
class Document:
    """A parsed YAML document with the line of every field, for errors raised after validation."""

    source: str
    data: Any
    positions: _Positions

    def issue(self, loc: Loc, message: str) -> ConfigIssue:
        return ConfigIssue(format_path(loc), message, self.positions.line_for(loc))

    def error(self, loc: Loc, message: str) -> ConfigError:
        return ConfigError(self.source, [self.issue(loc, message)])


def _check_size(text: str, source: str) -> None:
    """Refuse documents too deep or too large once aliases are expanded, in one pass and constant stack.

    PyYAML's event parser is iterative, so it reads any depth safely; its composer and constructor recurse (a
    20,000-deep file is a ``RecursionError``) and aliases are shared nodes that every consumer downstream (line
    positions, pydantic) expands. Each anchor's expanded size is known when its node ends, so an alias costs its
    whole subtree here, and an alias met while its own anchor is still open (a recursive document) is refused.
    """
    stack: list[list[Any]] = []  # per open collection: [its anchor, its node count so far]
    sizes: dict[str, int] = {}  # anchor -> node count of its node, aliases inside it expanded
    expanded = 0

    def count(n: int, event: yaml.Event) -> None:
        nonlocal expanded
        expanded += n
        if stack:
            stack[-1][1] += n
        if expanded > MAX_NODES:
            _refuse(source, event, f"more than {MAX_NODES:,} nodes once aliases are expanded (an alias bomb?)")

    for event in yaml.parse(text, Loader=_FAST_LOADER):
        if isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent):
            if len(stack) >= MAX_DEPTH:
                _refuse(source, event, _TOO_DEEP)
            count(1, event)
            stack.append([event.anchor, 1])
        elif isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
            anchor, size = stack.pop()
            if stack:
                stack[-1][1] += size - 1  # the collection's own node was counted into its parent at its start
            if anchor is not None:
                sizes[anchor] = size
        elif isinstance(event, yaml.ScalarEvent):
            if event.anchor is not None:
                sizes[event.anchor] = 1
            count(1, event)
        elif isinstance(event, yaml.AliasEvent):
            if event.anchor not in sizes and any(frame[0] == event.anchor for frame in stack):
                _refuse(source, event, f"alias *{event.anchor} is inside its own anchor (a recursive document)")
            count(sizes.get(event.anchor or "", 1), event)


def _refuse(source: str, event: yaml.Event, message: str) -> None:
    line = event.start_mark.line + 1 if event.start_mark is not None else None
    raise ConfigError(source, [ConfigIssue("(document)", message, line)])


def parse_yaml(text: str, source: str) -> Document:
    """Parse ``text``; a syntax error or a repeated key is a :class:`ConfigError`, not an exception from PyYAML."""
    try:
        _check_size(text, source)
        loader = yaml.SafeLoader(text)
        try:
            node = loader.get_single_node()  # one parse: the nodes give the lines, then the data is built from them
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        if "nesting depth" in problem:  # libyaml stops at 1,000 levels before our own count gets there
            raise ConfigError(source, [ConfigIssue("(document)", _TOO_DEEP, line)]) from None
        raise ConfigError(source, [ConfigIssue("(syntax)", f"invalid YAML: {problem}", line)]) from None
    positions = _Positions()
    if node is not None:
        positions.walk(node, ())
    if positions.duplicates:
        raise ConfigError(
            source,
            [ConfigIssue(format_path(loc), "key appears more than once", line) for loc, line in positions.duplicates],
        )
    return Document(source, data, positions)


def read_limited(path: Path, limit: int) -> bytes:
    """At most ``limit`` bytes of ``path``; raises ``ValueError`` when there are more (``/dev/zero`` included)."""
    with path.open("rb") as file:
        data = file.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"larger than {limit:,} bytes")
    return data


def read_document(path: str | Path) -> Document:
    path = Path(path)
    try:
        text = read_limited(path, MAX_FILE_BYTES).decode("utf-8")
    except OSError as exc:
        raise ConfigError(str(path), [ConfigIssue("(file)", f"cannot read file: {exc.strerror or exc}")]) from None
    except UnicodeDecodeError:
        raise ConfigError(str(path), [ConfigIssue("(file)", "not UTF-8 text")]) from None
    except ValueError as exc:
        raise ConfigError(str(path), [ConfigIssue("(file)", f"cannot read file: {exc}")]) from None
    return parse_yaml(text, str(path))


def config_dir(info: ValidationInfo | None) -> Path | None:
    """The directory of the file being validated (from :func:`load_model`'s context), or None for in-memory data."""
    context = info.context if info is not None else None
    if isinstance(context, dict) and isinstance(context.get(CONFIG_DIR), Path):
        return context[CONFIG_DIR]
    return None


def relative_to_config(path: Path, info: ValidationInfo | None) -> Path:
    """``path`` made absolute against the config file's directory; absolute paths and in-memory data unchanged."""
    base = config_dir(info)
    return path if path.is_absolute() or base is None else base / path


ConfigPath = Annotated[Path, AfterValidator(relative_to_config)]
"""A file path in a config file: relative to that file's directory, never to the process's working directory (a
service started by systemd runs in ``/``, where a relative pause file or CA would silently be another file)."""


def _describe(error: dict[str, Any]) -> str:
    kind = error.get("type", "")
    message = str(error.get("msg", "invalid value"))
    if kind == "extra_forbidden":
        return "unknown field (check the spelling; see docs/configuration.md)"
    if kind == "missing":
        return "required field is missing"
    # Pydantic prefixes custom errors with "Value error, "; the operator does not need to know that.
    for prefix in ("Value error, ", "Assertion failed, "):
        if message.startswith(prefix):
            message = message[len(prefix) :]
    return message


def validate(document: Document, model: type[M], context: dict[str, Any] | None = None) -> M:
    """Validate a parsed document; every problem is reported with its field path and line, never its value."""
    data = {} if document.data is None else document.data
    try:
        return model.model_validate(data, context=context)
    except ValidationError as exc:
        issues = [document.issue(tuple(err["loc"]), _describe(dict(err))) for err in exc.errors(include_input=False)]
        raise ConfigError(document.source, issues) from None


def load_model(
    path: str | Path,
    model: type[M],
    *,
    context: dict[str, Any] | None = None,
    check: Callable[[Document, M], list[ConfigIssue]] | None = None,
) -> M:
    """Read, parse and validate ``path`` into ``model``; ``check`` adds cross-field checks with their own paths.

    Relative paths in the file resolve against its directory: the directory (absolute and normalised, symlinks
    kept as named, so a Kubernetes ConfigMap mount's files stay together) is passed to validators in the context
    as ``config_dir``.
    """
    document = read_document(path)
    context = {**(context or {}), CONFIG_DIR: Path(os.path.abspath(path)).parent}
    result = validate(document, model, context)
    if check is not None:
        issues = check(document, result)
        if issues:
            raise ConfigError(document.source, issues)
    return result
