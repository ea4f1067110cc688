"""Provider and room calendar feeds (tokenized, revocable iCalendar) and busy-time import.

``models`` (tables), ``versions`` (what moves a feed's ETag), ``ical`` (the
iCalendar components), ``service`` (feeds and serving them), ``busy`` (external
busy calendars), ``routes`` (HTTP). See docs/feeds.md.
"""
