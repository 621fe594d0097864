"""Accounts: registration, mail, login and its limits, sessions, passwords, API tokens, administration."""
