"""qreact agent package."""
