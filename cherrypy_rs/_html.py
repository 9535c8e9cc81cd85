"""``html.escape`` without loading ``html`` at import: the module pulls in
``html.entities`` (~0.45 MiB of RSS per process) and only error pages and the HTML views
(session login form, statistics page) escape text."""

from __future__ import annotations


def escape(s: str, quote: bool = True) -> str:
    """``html.escape(s, quote)``."""
    # Lazy: html (with html.entities) costs ~0.45 MiB per process.
    import html

    return html.escape(s, quote)
