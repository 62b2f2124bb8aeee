"""dfkd-bench: a benchmark harness for data-free knowledge distillation."""

__version__ = "0.1.0"
