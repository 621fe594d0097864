"""The catalog: organisations, offers and demands, their pages and API, import and export."""
