"""Matching: demand → offers, offer → demands and search, lexical + dense + fusion + rerank."""
