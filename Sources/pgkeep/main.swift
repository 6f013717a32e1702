import PGKeepCLI

PGKeepCommand.main()
