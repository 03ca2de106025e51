"""Secret references in config values: ``${ENV_VAR}`` (anywhere in a string) and ``file:/path`` (whole value).

Secrets never sit in config files; they are resolved while the file is validated, so that an unset variable is
reported with its field path like any other mistake. Resolved values are wrapped in :class:`pydantic.SecretStr`,
whose ``repr`` and ``str`` print asterisks, so a model can be logged without leaking them. Error messages name
the variable or the file, never a value.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

from pydantic import SecretStr, ValidationInfo
from pydantic.functional_validators import BeforeValidator

_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
FILE_PREFIX = "file:"


def environment_from(info: ValidationInfo | None) -> Mapping[str, str]:
    """The environment to resolve against: injected by tests through the validation context, else the process's."""
    context = info.context if info is not None else None
    if isinstance(context, dict) and "environ" in context:
        return context["environ"]
    return os.environ


def is_reference(value: str) -> bool:
    return value.startswith(FILE_PREFIX) or bool(_REF.search(value))


def resolve(value: str, environ: Mapping[str, str], base: Path | None = None) -> str:
    """The value with references replaced; raises ``ValueError`` naming what is missing.

    A relative ``file:`` path is relative to ``base`` (the config file's directory) when one is given."""
    if value.startswith(FILE_PREFIX):
        path = Path(value[len(FILE_PREFIX) :])
        if base is not None and not path.is_absolute():
            path = base / path
        try:
            return path.read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise ValueError(f"cannot read secret file {path}: {exc.strerror or 'unreadable'}") from None

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in environ:
            raise ValueError(f"environment variable {name} is not set")
        return environ[name]

    return _REF.sub(substitute, value)


def _to_secret(value: Any, info: ValidationInfo) -> Any:
    if isinstance(value, SecretStr):
        return value
    if isinstance(value, bool):  # YAML's true/false must reach librdkafka as "true"/"false"
        return SecretStr("true" if value else "false")
    if isinstance(value, int | float):
        return SecretStr(str(value))
    if not isinstance(value, str):
        raise ValueError("expected a string, a number or a boolean")
    context = info.context if isinstance(info.context, dict) else {}
    base = context.get("config_dir")
    return SecretStr(resolve(value, environment_from(info), Path(base) if base is not None else None))


Secret = Annotated[SecretStr, BeforeValidator(_to_secret)]
"""A config value that may reference the environment or a file; it is kept masked once loaded."""
