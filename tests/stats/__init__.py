"""Statistics: the headline figures and the charts built from them."""
