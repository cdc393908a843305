"""Thin AWS Lambda entry points; the work is in the :mod:`logship` library."""
