"""Resource outages that re-route the appointments they hit instead of stranding them."""
