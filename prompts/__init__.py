"""User-facing Spanish texts, kept as files so they can be reviewed without reading code."""

import tomllib
from functools import cache
from pathlib import Path

_MESSAGES_FILE = Path(__file__).with_name("messages.toml")


@cache
def _messages() -> dict[str, dict[str, str]]:
    with _MESSAGES_FILE.open("rb") as fh:
        return tomllib.load(fh)


def message(key: str, **values: object) -> str:
    """The Spanish text for `section.name`, formatted with `values`."""
    section, name = key.split(".", 1)
    return _messages()[section][name].format(**values)
