"""The ``face-anything`` command line: ``main`` builds the parser, ``commands/`` holds one module per subcommand."""
