"""coder_client."""
