"""Boards: the registry (boards.yml), flashing, serial read-out and hardware markers.

``registry`` knows the boards and which are attached this session, ``flash`` puts a program
on a board (a tool's command line, or QEMU for emulated boards), ``serial_io`` reads its
console with a timeout under a per-port lock, ``hardware`` implements
``@pytest.mark.hardware``.
"""
