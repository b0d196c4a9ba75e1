"""Talking to boards and emulators: serial consoles, flash tools, QEMU, labgrid places."""
