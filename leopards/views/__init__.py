"""Pages of the leopards app: the review, the catalogue of individuals and blind checks."""
