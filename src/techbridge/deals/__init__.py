"""Deals (交易撮合): dockings (对接) from a match or an introduction request to a signed deal."""
