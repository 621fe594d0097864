"""The edge: the app as a whole (home, errors, languages, hardening, the route × role matrix)."""
