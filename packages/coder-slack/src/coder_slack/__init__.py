"""coder_slack."""
