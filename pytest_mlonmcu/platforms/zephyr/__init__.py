"""The Zephyr platform: a Zephyr application per run (``build``), one target per board
(``target``)."""
