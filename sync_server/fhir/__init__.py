"""FHIR R4 for other systems: SMART Scheduling Links slot publishing, the seed-004 booking
hand-off and its back channel, and a read API for registered clients."""
