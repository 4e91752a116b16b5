"""clickstream: raw web-event lines to validated, partitioned Delta Lake tables."""

__version__ = "0.1.0"
