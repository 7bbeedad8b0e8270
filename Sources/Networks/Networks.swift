// The Networks module; see docs/ARCHITECTURE.md for its place in the data flow.
