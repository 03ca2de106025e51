"""Secret references in config values: ``${ENV_VAR}`` (anywhere in a string) and ``file:/path`` (whole value).

Secrets never sit in config files; they are resolved while the file is validated, so that an unset variable is
reported with its field path like any other mistake. Resolved values are wrapped in :class:`ResolvedSecret` (a
:class:`pydantic.SecretStr`, whose ``repr`` and ``str`` print asterisks), so a model can be logged without leaking
them. Error messages name the variable or the file, never a value nor any byte of it.

Masking the model is not enough: a value also reaches client libraries, whose errors and logs quote it (a password
pasted into ``sasl.mechanism`` comes back in librdkafka's "unsupported value" error; kafka-python logs its
``client_id``). So every resolved value is remembered in the model, and :class:`Redactor` built from a loaded
config hides all of them from any text we log or serve, whichever library wrote it.

A ``file:`` path that is relative resolves against the directory of the config file naming it. The file must be a
regular file of at most :data:`MAX_SECRET_BYTES` (so ``file:/dev/zero`` or a FIFO cannot hang or exhaust the
process) and UTF-8.
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, SecretStr, ValidationInfo
from pydantic.functional_validators import BeforeValidator

from kafka_obs.config.loader import relative_to_config

_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
FILE_PREFIX = "file:"
MAX_SECRET_BYTES = 64 * 1024
"""Largest secret file accepted: keys, certificates and tokens are a few KiB."""
REDACTED = "<redacted>"
MIN_REDACTED_LENGTH = 4
"""Shorter resolved values are not redacted: hiding every "1" or "on" would garble logs and protect nothing."""


class ResolvedSecret(SecretStr):
    """A secret whose value came from the environment or a file; ``sensitive`` is what a :class:`Redactor` hides."""

    def __init__(self, value: str, pieces: Iterable[str] = ()) -> None:
        super().__init__(value)
        self.sensitive: tuple[str, ...] = (value, *pieces)


def environment_from(info: ValidationInfo | None) -> Mapping[str, str]:
    """The environment to resolve against: injected by tests through the validation context, else the process's."""
    context = info.context if info is not None else None
    if isinstance(context, dict) and "environ" in context:
        environ: Mapping[str, str] = context["environ"]
        return environ
    return os.environ


def is_reference(value: str) -> bool:
    return value.startswith(FILE_PREFIX) or bool(_REF.search(value))


def read_secret_file(path: Path) -> str:
    """The file's text without its final newline; raises ``ValueError`` naming the file, never a byte of it."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # O_NONBLOCK: opening a FIFO must not wait for a writer
    except OSError as exc:
        raise ValueError(f"cannot read secret file {path}: {exc.strerror or 'unreadable'}") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise ValueError(f"secret file {path} is not a regular file")
    with os.fdopen(fd, "rb") as file:
        if info.st_size > MAX_SECRET_BYTES:
            raise ValueError(f"secret file {path} is larger than {MAX_SECRET_BYTES:,} bytes")
        try:
            data = file.read(MAX_SECRET_BYTES + 1)
        except OSError as exc:
            raise ValueError(f"cannot read secret file {path}: {exc.strerror or 'unreadable'}") from None
    if len(data) > MAX_SECRET_BYTES:
        raise ValueError(f"secret file {path} is larger than {MAX_SECRET_BYTES:,} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        # the decoder's message quotes the offending byte and its position: part of the secret
        raise ValueError(f"secret file {path} is not UTF-8 text") from None
    return text.rstrip("\r\n")


def resolve(value: str, environ: Mapping[str, str], info: ValidationInfo | None = None) -> ResolvedSecret:
    """The value with references replaced; raises ``ValueError`` naming what is missing."""
    if value.startswith(FILE_PREFIX):
        return ResolvedSecret(read_secret_file(relative_to_config(Path(value[len(FILE_PREFIX) :]), info)))
    pieces: list[str] = []

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in environ:
            raise ValueError(f"environment variable {name} is not set")
        pieces.append(environ[name])
        return environ[name]

    return ResolvedSecret(_REF.sub(substitute, value), pieces)


def _to_secret(value: Any, info: ValidationInfo) -> Any:
    if isinstance(value, SecretStr):
        return value
    if isinstance(value, bool):  # YAML's true/false must reach librdkafka as "true"/"false"
        return SecretStr("true" if value else "false")
    if isinstance(value, int | float):
        return SecretStr(str(value))
    if not isinstance(value, str):
        raise ValueError("expected a string, a number or a boolean")
    if not is_reference(value):
        return SecretStr(value)
    return resolve(value, environment_from(info), info)


Secret = Annotated[SecretStr, BeforeValidator(_to_secret)]
"""A config value that may reference the environment or a file; it is kept masked once loaded."""


def resolved_secrets(config: Any) -> Iterator[str]:
    """Every value that came from ``${ENV}`` or ``file:`` anywhere in a loaded config (models, dicts, lists)."""
    if isinstance(config, ResolvedSecret):
        yield from config.sensitive
    elif isinstance(config, BaseModel):
        for name in type(config).model_fields:
            yield from resolved_secrets(getattr(config, name))
    elif isinstance(config, Mapping):
        for item in config.values():
            yield from resolved_secrets(item)
    elif isinstance(config, list | tuple | set | frozenset):
        for item in config:
            yield from resolved_secrets(item)


class Redactor:
    """Replaces every resolved secret of the loaded configs with ``<redacted>`` in a text.

    Built once from the loaded configs and immutable afterwards; the logging formatter and everything a server
    renders from text it did not write (client errors) call it. Each value is also matched in the escaped forms a
    library may print it in (Python ``repr``, JSON), longest first so that a secret containing another is hidden
    whole.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        forms: set[str] = set()
        for secret in secrets:
            if len(secret) >= MIN_REDACTED_LENGTH:
                forms.update({secret, repr(secret)[1:-1], json.dumps(secret)[1:-1]})
        ordered = sorted(forms, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    @classmethod
    def for_configs(cls, *configs: Any) -> Redactor:
        return cls(secret for config in configs for secret in resolved_secrets(config))

    def __call__(self, text: str) -> str:
        if self._pattern is None:
            return text
        return self._pattern.sub(REDACTED, text)
