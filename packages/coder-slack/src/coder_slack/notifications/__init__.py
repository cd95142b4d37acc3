"""Coder's own notifications in Slack: Coder's notification webhook in, DMs and channel messages out.

``payload`` reads the webhook's body (versions 1.0 and 1.1, leniently); ``kinds`` names the notification
kinds people subscribe to and mute.
"""
