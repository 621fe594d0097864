"""Deals (交易撮合): the funnel from a match to a deal, starting with introduction requests."""
