"""coder_jupyter."""
