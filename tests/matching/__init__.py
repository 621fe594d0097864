"""Matching: the indexes and their outbox, search, matches, batch runs."""
