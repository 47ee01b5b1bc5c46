"""The `bankgate` command line: thin verbs over services; errors are one line and exit 2."""
