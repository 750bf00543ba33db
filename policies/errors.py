"""The one error type the policy layer raises; its message starts with the field it is about."""

from __future__ import annotations


class PolicyError(ValueError):
    """A bad catalogue file, an unknown policy/tier/severity, or a target that is not configured.

    `field` names what was wrong (`severity`, `customer.timezone`, `kong.toml: targets.sev1...`), so
    the API can answer 422 naming it and the CLI can print it.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
