// The DefectLibrary module; see docs/ARCHITECTURE.md for its place in the data flow.
