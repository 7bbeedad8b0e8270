/// AtomTrack's version, printed by `atomtrack --version` and recorded in every output's metadata.
public let atomTrackVersion = "0.1.0"
