"""Care loops of the waitlist: freed slots offered to waitlisted patients, and no-shows."""
