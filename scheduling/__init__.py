"""The ClinicDesk scheduling domain: pure Python, no frameworks, no I/O.

Everything time-related takes the clock (``now``) and the time zone as
arguments. Instants are timezone-aware UTC datetimes; wall-clock times are
naive datetimes interpreted in a clinic's IANA time zone.
"""
