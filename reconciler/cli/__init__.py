"""The command line: flags, one whole run (checkout → pipeline → output → metrics), loop mode, subcommands."""
