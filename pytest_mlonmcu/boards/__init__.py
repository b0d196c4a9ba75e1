"""Boards as data: ``boards.yml`` plus mlonmcu.yml's ``boards:`` entries (``boardset``)."""
