import ArgumentParser
import Pipeline

OpenBLASCoreType.reexecIfNeeded()
AtomTrack.main()
