"""Administration screens: record editors for the configuration, users and roles."""
