"""The development tools that live beside the package in a checkout (``bench/``).

They are not installed: a council's deployment carries no benchmark drivers or synthetic
city. ``ehx bench``, ``ehx bench-compare`` and ``ehx links evaluate`` use them from the
checkout an editable install points at.
"""

from __future__ import annotations

import sys
from pathlib import Path

#: The checkout's root, where an editable install's ``ehx/`` sits beside ``bench/``.
ROOT = Path(__file__).resolve().parent.parent


class NotACheckout(RuntimeError):
    """The development tools are asked for, but this ``ehx`` is not run from a checkout."""


def use_development_tools() -> None:
    """Make the checkout's ``bench`` importable, or say why it cannot be."""
    if not (ROOT / "bench" / "__init__.py").is_file():
        raise NotACheckout(
            "this command runs from a checkout of the project (git clone, then "
            "pip install -e .): bench/ is a development tool and is not installed"
        )
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
