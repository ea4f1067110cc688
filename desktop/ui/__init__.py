"""The desk's screens: one module per screen or dialog; they only ask services and react."""
