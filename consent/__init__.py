"""The consent service: registry, policy and filter. Not built yet (issue 5)."""

__all__: list[str] = []
