"""qreact finetune package."""
