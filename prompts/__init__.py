"""User-facing Spanish texts, kept as files so they can be reviewed without reading code."""

import string
import tomllib
from functools import cache
from pathlib import Path

_MESSAGES_FILE = Path(__file__).with_name("messages.toml")


@cache
def _messages() -> dict[str, dict[str, str]]:
    with _MESSAGES_FILE.open("rb") as fh:
        return tomllib.load(fh)


def _template(key: str) -> str:
    section, name = key.split(".", 1)
    return _messages()[section][name]


def message(key: str, **values: object) -> str:
    """The Spanish text for `section.name`, formatted with `values`."""
    return _template(key).format(**values)


def unfilled(key: str) -> str:
    """The text with its placeholders left as `{name}`, for a page's script to fill in."""
    names = {field for _, field, _, _ in string.Formatter().parse(_template(key)) if field}
    return message(key, **{name: f"{{{name}}}" for name in names})
