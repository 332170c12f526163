"""Early Help Exchange: the ``ehx`` command and the pieces that run the services together."""

__all__: list[str] = []
