"""Desk store revisions, oldest first."""
