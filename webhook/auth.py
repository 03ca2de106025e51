"""Credentials for ``POST /alerts`` and the admin endpoints: what Alertmanager's ``http_config`` can send.

Bearer (``authorization``) or ``basic_auth``; both compared with :func:`hmac.compare_digest`, so the time a wrong
guess takes says nothing about how close it was. Secrets come from the config (``${ENV}`` or ``file:``), never
from the command line, and are never logged.
"""

from __future__ import annotations

import base64
import binascii
import hmac

from kafka_obs.webhook.config import AuthConfig


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


class Authenticator:
    def __init__(self, config: AuthConfig):
        self._token = config.bearer_token.get_secret_value() if config.bearer_token else None
        self._basic = (
            (config.basic.username.get_secret_value(), config.basic.password.get_secret_value())
            if config.basic
            else None
        )
        self.anonymous = self._token is None and self._basic is None and config.allow_anonymous

    @property
    def challenge(self) -> str:
        return 'Bearer realm="kafka-obs-webhook"' if self._token else 'Basic realm="kafka-obs-webhook"'

    def check(self, header: str | None) -> bool:
        if self.anonymous:
            return True
        if not header:
            return False
        scheme, _, value = header.partition(" ")
        value = value.strip()
        if scheme.lower() == "bearer" and self._token is not None:
            return _same(value, self._token)
        if scheme.lower() == "basic" and self._basic is not None:
            try:
                user, sep, password = base64.b64decode(value, validate=True).decode("utf-8").partition(":")
            except (binascii.Error, UnicodeDecodeError):
                return False
            # Both comparisons always run: no early exit on a wrong user name.
            user_ok = _same(user, self._basic[0])
            password_ok = _same(password, self._basic[1])
            return bool(sep) and user_ok and password_ok
        return False
