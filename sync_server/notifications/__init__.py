"""Notifications and reminders: the outbox written by an event handler inside each booking's
transaction, the worker that sends it (SMTP e-mail, an SMS gateway, the desk's alerts),
reply links and the administrator's API. See docs/notifications.md."""
