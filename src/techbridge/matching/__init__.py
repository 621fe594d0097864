"""Matching: demand → offers, offer → demands and search, lexical + dense + fusion + rerank."""

# LightGBM must be loaded before usearch: usearch's extension exports its own copy of {fmt},
# and a LightGBM loaded after it formats feature names wrongly ("Feature (Column_) appears
# more than one time", training fails). Every import of usearch goes through this package.
import lightgbm  # noqa: F401
