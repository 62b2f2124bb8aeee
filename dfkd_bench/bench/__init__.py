"""`dfkd-bench bench`: how close each cell runs to the hardware. A short, warm-started measurement per cell (not a
run): synthesis and KD images/s, the KD step's FLOPs and achieved FLOP/s, utilisation against the device's peak,
and the harness overhead of the KD step against the same network passes run bare. As a table, as JSON, as the
markdown of a committed report, and as calibration for `run --dry-run`."""
