"""TrainConfig: the engine's budget and student optimisation, shared by every method: epochs, synthesis rounds,
KD steps (fixed per round, or following the buffer), batch sizes and the SGD schedule. Its own module because the
engine, the methods and the cards all read it and none of them owns it."""

from __future__ import annotations

from dataclasses import dataclass

PRECISIONS = ("fp32", "bf16")


@dataclass
class TrainConfig:
    """Engine-owned budget and student optimisation, shared by every method (reference-methods.md 1.4)."""

    epochs: int = 200
    warmup: int = 0
    ep_steps: int = 400
    kd_steps: int = 400
    kd_passes: float | None = None  # None: kd_steps per round (fixed); a number: passes over B per epoch
    batch_size: int = 256
    synthesis_batch_size: int | None = None
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 1e-4
    eta_min: float = 2e-4
    T: float = 20.0
    data_scale: int | None = None
    eval_batch_size: int = 1024
    image_size: int | None = None  # side of synthetic images and real training crops; None: the data set's
    # The KD step's fast path (engine/fast_path.py). None means auto and is left out of the config hash, so cards
    # and runs from before these keys keep their hashes: bf16 autocast and channels_last on CUDA, fp32 on the CPU.
    precision: str | None = None  # "fp32" or "bf16" (autocast of the teacher forward and the student passes)
    channels_last: bool | None = None
    compile: bool | None = None  # torch.compile the KD forwards of student and teacher; None: off

    def __post_init__(self) -> None:
        if self.precision is not None and self.precision not in PRECISIONS:
            raise ValueError(
                f"train.precision must be one of {', '.join(PRECISIONS)} (or null: auto), got {self.precision!r}"
            )
        if self.kd_passes is not None:
            if not self.kd_passes > 0:
                raise ValueError(f"train.kd_passes must be a positive number of passes over B, got {self.kd_passes}")
            if self.data_scale is None:
                raise ValueError("train.kd_passes derives the KD steps from |B|: it needs train.data_scale")

    @property
    def rounds_per_epoch(self) -> int:
        """Synthesis rounds per epoch, ep_steps // kd_steps as in the reference; the KD budget never changes it."""
        return max(1, self.ep_steps // self.kd_steps)

    @property
    def kd_steps_per_epoch(self) -> int:
        """Student steps per epoch, after the warm-up.

        Fixed budget (kd_passes None, every baseline): kd_steps after each synthesis round, the reference's.
        Buffer budget (SSD-KD): kd_passes passes over a buffer of data_scale images,
        max(1, round(kd_passes * |B| / batch_size)), so KD compute follows |B| while the synthesis rounds, the
        epochs and the learning-rate schedule stay as they are."""
        if self.kd_passes is None:
            return self.kd_steps * self.rounds_per_epoch
        return max(1, round(self.kd_passes * self.data_scale / self.batch_size))

    def kd_steps_in_round(self, round_in_epoch: int) -> int:
        """The epoch's KD steps spread over its synthesis rounds (the first rounds take the remainder)."""
        base, extra = divmod(self.kd_steps_per_epoch, self.rounds_per_epoch)
        return base + (round_in_epoch < extra)

    @property
    def synth_batch(self) -> int:
        return self.synthesis_batch_size or self.batch_size
