"""The tiny budget of the tests that run real MNIST grids through the command line: three epochs of six steps,
enough to exercise synthesis, KD, evaluation, checkpoints and resume in seconds."""

TINY = {
    "train.epochs": 3,
    "train.ep_steps": 6,
    "train.kd_steps": 6,
    "train.batch_size": 32,
    "train.synthesis_batch_size": 32,
}
