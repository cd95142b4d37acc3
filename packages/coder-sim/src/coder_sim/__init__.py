"""coder_sim."""
