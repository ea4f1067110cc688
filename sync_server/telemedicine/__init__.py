"""Telemedicine visits: the video room, the session log and the provider no-join path."""
