"""Who the OS is: its identity, how it first meets its user, and how it chooses its name."""
