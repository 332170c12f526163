"""The consent service: registry, policy and filter. Not built yet (issue 5); nothing here is wired."""

__all__: list[str] = []
