import PGKeep
import PGKeepCLI

// Signal handling and the umask before anything else: as a container's PID 1, pgkeep would lose a
// SIGTERM that came before its handler (the kernel drops signals to a namespace's init that has none).
Runtime.prepare()
PGKeepCommand.main()
