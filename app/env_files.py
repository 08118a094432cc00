"""Text files Windows tools save: .env and mapping files in UTF-8, UTF-16 or cp1251.

Windows PowerShell 5.1 writes UTF-16 with a byte order mark for `"..." > .env`,
Notepad saves UTF-8 with a BOM, older editors on a Russian Windows save cp1251
("ANSI"). Each is read as what it is; anything else is refused naming the file.
"""

from __future__ import annotations

import codecs
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

from dotenv import dotenv_values
from dotenv.parser import parse_stream

from app.errors import ConfigError
from app.messages import say

# Longest BOM first: the UTF-32 LE BOM starts with the UTF-16 LE one.
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
         (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
         (codecs.BOM_UTF16_BE, "utf-16"))
# KEY="..." where the quoted part holds a backslash that is not \\ or \": python-dotenv
# would read \b, \t, \n ... in it as control characters (C:\Python\MiniApps\bitrix-sync).
_DOUBLE_QUOTED = re.compile(r'^\s*(?:export\s+)?[^=\s]+\s*=\s*"(?P<inner>(?:\\.|[^"\\])*)"',
                            re.DOTALL)
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)


@dataclass
class EnvFile:
    """The variables of one .env file, the encoding it was read in and what looked wrong."""

    path: Path
    values: dict[str, str | None]
    encoding: str = "utf-8"
    warnings: list[str] = field(default_factory=list)


def read_text(path: Path, *, what: str) -> tuple[str, str]:
    """The text of `path` and the encoding it was in; ConfigError naming the file otherwise."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(say("files.unreadable", what=say(what), path=path,
                              why=exc.strerror or exc)) from None
    encoding = _encoding_of(data)
    try:
        text = data.decode(encoding) if encoding else None
    except UnicodeDecodeError:
        text = None
    if text is None:
        raise ConfigError(say("files.encoding", what=say(what), path=path))
    return text.removeprefix("\ufeff"), encoding.removesuffix("-sig")


def _encoding_of(data: bytes) -> str | None:
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return encoding
    if b"\x00" in data:
        # UTF-16 without a BOM puts a NUL beside every ASCII character; anything else
        # with NULs is not a text file at all.
        if data[1::2].count(0) > len(data) // 4:
            return "utf-16-le"
        if data[0::2].count(0) > len(data) // 4:
            return "utf-16-be"
        return None
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return "cp1251"  # a Russian Windows' "ANSI"; undecodable bytes fail in read_text
    return "utf-8"


def read_env_file(path: Path) -> EnvFile:
    """Parse one .env file; a double-quoted value with lone backslashes is read literally."""
    text, encoding = read_text(path, what="files.settings_file")
    values = dotenv_values(stream=io.StringIO(text), interpolate=True)
    found = EnvFile(path, dict(values), encoding)
    for binding in parse_stream(io.StringIO(text)):
        if binding.key is None or binding.error:
            continue
        quoted = _DOUBLE_QUOTED.match(binding.original.string)
        # Scanned left to right, so the second half of \\ never starts an escape.
        if quoted is None or all(m[1] in '\\"' for m in _ESCAPE.finditer(quoted["inner"])):
            continue
        literal = _ESCAPE.sub(lambda m: m[1] if m[1] in '\\"' else m[0], quoted["inner"])
        found.values[binding.key] = literal
        found.warnings.append(say("files.backslashes", key=binding.key, path=path,
                                  literal=literal))
    return found
