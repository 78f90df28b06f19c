"""Harken: self-hosted research platform."""

__version__ = "0.1.0"
