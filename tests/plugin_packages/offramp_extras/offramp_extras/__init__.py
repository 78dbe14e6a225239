"""A custom SMT, predicate and converter for offramp, from a package of their own."""
