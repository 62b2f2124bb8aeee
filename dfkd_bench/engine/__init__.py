"""The KD loop, timing, evaluation and checkpoint/resume."""
