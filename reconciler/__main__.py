from reconciler.cli.main import program

program()
