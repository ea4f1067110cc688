"""Provider and room calendar feeds (tokenized, revocable iCalendar) and busy-time import.

``models`` (tables), ``versions`` (what moves a feed's ETag), ``service`` (tokens,
policy, creating and revoking feeds), ``serving`` (ETag/304 and incremental
rebuilds), ``busy`` (external busy calendars), ``routes`` (HTTP). The iCalendar
components themselves are built by :mod:`scheduling.ical`, shared with the desk's
export. See docs/feeds.md.
"""
