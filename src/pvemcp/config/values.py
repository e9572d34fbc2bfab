"""Settings text parsed by the table: one rule per kind, the same for the environment and the file.

- integer: ASCII digits (an optional sign), within bounds; `22.5`, `3000.0` and `1e3` are refused.
- number (seconds): a plain decimal such as `2.5`, within bounds; no exponent, NaN or infinity.
- boolean: true/false, yes/no, on/off, 1/0 in any case.
- choice: one of the table's choices, in any case.
- text: as given; empty or blank means unset (the default) everywhere but through `raw`.

A value is parsed when code first asks for it, so a setting that the configuration does not use (an SSH port
with PVE_SSH=off) is not judged; each problem names the setting and is reported once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from pvemcp.config.table import BY_NAME, Kind, Setting

_INTEGER = re.compile(r"^[+-]?[0-9]+$")
_DECIMAL = re.compile(r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)$")
TRUE = frozenset({"true", "yes", "on", "1"})
FALSE = frozenset({"false", "no", "off", "0"})


def parse_integer(setting: Setting, text: str, problems: list[str]) -> int | None:
    low, high = int(setting.low or 0), int(setting.high or 0)
    value = text.strip()
    if _INTEGER.match(value) and low <= int(value) <= high:
        return int(value)
    problems.append(f"{setting.name}={text!r} must be a whole number from {low} to {high}")
    return None


def parse_number(setting: Setting, text: str, problems: list[str]) -> float | None:
    value = text.strip()
    if not _DECIMAL.match(value):
        problems.append(f"{setting.name}={text!r} is not a number")
        return None
    number = float(value)
    low, high = setting.low or 0.0, setting.high or 0.0
    if not low <= number <= high:
        problems.append(f"{setting.name}={text!r} must be a number from {low:g} to {high:g}")
        return None
    return number


def parse_flag(setting: Setting, text: str, problems: list[str]) -> bool | None:
    value = text.strip().lower()
    if value in TRUE or value in FALSE:
        return value in TRUE
    problems.append(f"{setting.name}={text!r} is not a boolean; use true or false")
    return None


def parse_choice(setting: Setting, text: str, problems: list[str]) -> str | None:
    value = text.strip().lower()
    if value in setting.choices:
        return value
    problems.append(f"{setting.name}={text!r} is not one of {', '.join(setting.choices)}")
    return None


PARSERS = {"integer": parse_integer, "number": parse_number, "boolean": parse_flag, "choice": parse_choice}


class SettingValues:
    """The settings text (upper-case names), read through the table.

    Asking for a name the table does not hold, or with the accessor of another kind, is a programming error
    (KeyError, TypeError); `read` records every name asked for.
    """

    def __init__(self, text: Mapping[str, str], problems: list[str]) -> None:
        self._text = {key.upper(): value for key, value in text.items()}
        self._problems = problems
        self._parsed: dict[str, object] = {}
        self.read: set[str] = set()

    def _setting(self, name: str, *kinds: Kind) -> Setting:
        setting = BY_NAME[name]
        if setting.kind not in kinds:
            raise TypeError(f"{name} is a {setting.kind} setting, not {' or '.join(kinds)}")
        self.read.add(name)
        return setting

    def raw(self, name: str) -> str | None:
        """The text exactly as given (None when absent): for parsers of their own, and where empty means something."""
        self._setting(name, "text", "choice", "integer", "number", "boolean")
        return self._text.get(name)

    def given(self, name: str) -> bool:
        self._setting(name, "text", "choice", "integer", "number", "boolean")
        return bool((self._text.get(name) or "").strip())

    def text(self, name: str) -> str:
        """Stripped text, or the table's default (else "") when unset."""
        setting = self._setting(name, "text")
        value = (self._text.get(name) or "").strip()
        return value or str(setting.default or "")

    def _parse(self, setting: Setting) -> object:
        if setting.name not in self._parsed:
            text = self._text.get(setting.name) or ""
            value = PARSERS[setting.kind](setting, text, self._problems) if text.strip() else None
            self._parsed[setting.name] = setting.default if value is None else value
        return self._parsed[setting.name]

    def integer(self, name: str) -> int:
        value = self._parse(self._setting(name, "integer"))
        assert isinstance(value, int)
        return value

    def number(self, name: str) -> float:
        value = self._parse(self._setting(name, "number"))
        assert isinstance(value, int | float)
        return float(value)

    def flag(self, name: str) -> bool:
        value = self._parse(self._setting(name, "boolean"))
        assert isinstance(value, bool)
        return value

    def choice(self, name: str) -> str:
        value = self._parse(self._setting(name, "choice"))
        assert isinstance(value, str)
        return value
