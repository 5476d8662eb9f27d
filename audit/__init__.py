"""mssp-audit: proves, customer by customer, that an MSSP's delegated access is governed."""
