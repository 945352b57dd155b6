"""qreact app package."""
