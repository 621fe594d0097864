"""Catalog (目录): organisations, people, offers (技术供给) and demands (技术需求)."""
