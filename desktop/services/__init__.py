"""Application services of the desk: what the UI asks for, in the clinic's words.

Each service takes plain values and returns small frozen DTOs
(:mod:`desktop.services.dto`), using one store session per user action; no
widget ever sees a session or an ORM row. Every service needs a signed-in,
unlocked session and raises :class:`desktop.services.session.SessionLocked`
otherwise (see that module for the lock policy). Actions answer a refusal
value (``NOT_PERMITTED``, a rules code with alternatives) instead of raising.
"""
