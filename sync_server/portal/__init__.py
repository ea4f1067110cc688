"""The patient portal: server-rendered pages where patients find a slot, sign in with a
one-time code, book, see, move and cancel their appointments; the embeddable widget."""
