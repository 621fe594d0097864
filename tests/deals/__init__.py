"""Deals: introduction requests between the two sides of a demand and an offer."""
