"""Streaming readers and writers for sequence, variant, interval and annotation files."""
