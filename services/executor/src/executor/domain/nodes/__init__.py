"""The node catalogue: one module per node kind, listed explicitly in `registry`."""
