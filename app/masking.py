"""Keep the webhook's secret code out of every message, log line and file."""

from __future__ import annotations

import argparse
import logging
import re

# /rest/<user id>/<code>/ — the code is the secret; the user id is harmless.
_WEBHOOK_PATH = re.compile(r"(/rest/\d+/)([^/\s'\"?#]+)")
# A malformed URL without the user id still carries the code right after /rest/.
_BARE_CODE = re.compile(r"(/rest/)(?!\d+/)(?!\*\*\*)([^/\s'\"?#]{6,})")
_known_secrets: set[str] = set()


def register_secret(secret: str) -> None:
    """Remember a secret so it is masked even where it appears outside a URL."""
    if secret and len(secret) >= 4:
        _known_secrets.add(secret)


def mask(text: object) -> str:
    """Return text with every webhook code replaced by ***."""
    out = _WEBHOOK_PATH.sub(lambda m: m.group(1) + "***", str(text))
    out = _BARE_CODE.sub(lambda m: m.group(1) + "***", out)
    for secret in _known_secrets:
        if secret in out:
            out = out.replace(secret, "***")
    return out


class MaskingFilter(logging.Filter):
    """Logging filter that masks secrets in the final message of every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "english"):  # the first handler sees the arguments still
            record.english = mask(_english(record))
            # A catalog text (app.messages.Said): the console may speak its language.
            record.said = hasattr(record.msg, "en") and not record.args
        message = record.getMessage()
        masked = mask(message)
        if record.exc_info and record.exc_info[1] is not None:
            # Render the traceback now, masked, so no handler prints the raw one.
            formatter = logging.Formatter()
            masked_exc = mask(formatter.formatException(record.exc_info))
            record.exc_info = None
            record.exc_text = masked_exc
        elif record.exc_text:
            record.exc_text = mask(record.exc_text)
        if masked != message or record.args:
            record.msg, record.args = masked, None
        return True


def _english(record: logging.LogRecord) -> str:
    """The record's message with each argument in its English wording where it has one
    (a catalog text or one of our errors carries it as `.en`): the log file's words."""
    args = record.args
    if isinstance(args, tuple):
        args = tuple(getattr(arg, "en", arg) for arg in args)
    msg = getattr(record.msg, "en", record.msg)
    try:
        return str(msg) % args if args else str(msg)
    except (TypeError, ValueError):
        return record.getMessage()


class EnglishFormatter(logging.Formatter):
    """The log file's formatter: the English wording MaskingFilter kept on the record."""

    def format(self, record: logging.LogRecord) -> str:
        english = getattr(record, "english", None)
        if english is None:
            return super().format(record)
        saved = record.msg, record.args
        record.msg, record.args = english, None
        try:
            return super().format(record)
        finally:
            record.msg, record.args = saved


class MaskingArgumentParser(argparse.ArgumentParser):
    """argparse echoes bad arguments back; a mistyped option may carry the webhook URL."""

    def error(self, message: str):  # type: ignore[override]
        super().error(mask(message))
