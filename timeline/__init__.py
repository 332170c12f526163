"""Recipients' family timelines: ``timeline.store`` keeps them, ``timeline.reading`` opens
an entry with its data key, ``timeline.service`` subscribes and rebuilds.

No pure rules of its own (what a recipient sees is decided in ``consent``).
"""

__all__: list[str] = []
