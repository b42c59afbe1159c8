"""A local KSeF 2.0 API emulator for everything token management touches (see docs/emulator.md)."""

__version__ = "0.1.0"
