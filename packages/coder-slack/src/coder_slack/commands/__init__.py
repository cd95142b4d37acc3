"""The ``/workspace`` command: grammar (text → command) and handlers (command → Coder calls → Slack)."""
