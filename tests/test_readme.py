"""The README documents every setting pvemcp reads."""

from __future__ import annotations

from pathlib import Path

from pvemcp.config import EnvSettings
from pvemcp.http.settings import HttpEnv

README = Path(__file__).resolve().parents[1] / "README.md"
NOT_SETTINGS = {"XDG_STATE_HOME", "HOME"}  # read for defaults, documented where they matter


def test_every_setting_is_in_the_readme() -> None:
    text = README.read_text()
    names = {name.upper() for name in (*EnvSettings.model_fields, *HttpEnv.model_fields)} - NOT_SETTINGS
    missing = sorted(name for name in names if f"`{name}`" not in text and f"{name}`" not in text)
    assert not missing, f"README.md does not document: {', '.join(missing)}"
