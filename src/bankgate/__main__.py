"""`python -m bankgate` runs the command line."""

from bankgate.cli.main import main

main()
