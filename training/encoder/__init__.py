"""Training the dermoscopy encoder (`dermagraph train encoder`); inference code never imports this."""
