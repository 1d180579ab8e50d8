"""The ``factornet`` command line: one thin module per subcommand (parse → call one library function)."""
