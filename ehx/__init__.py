"""Early Help Exchange: the `ehx` command and the composition root that assembles the services,
the web application and the local runtime."""

__all__: list[str] = []
