"""The FactorNet network (Quang & Xie 2019): a Siamese CNN + BiLSTM over DNA one-hot + signal tracks.

One shared stack (``strand``) sees the forward input and its reverse complement (sequence reversed and
complemented; tracks reversed, ``*_fwd``/``*_rev`` swapped); the two sigmoid outputs are averaged, so
the prediction for ``x`` equals the prediction for ``RC(x)`` exactly::

    input (L, 4 + n_tracks)
    conv_motifs    Conv1D(k, w, ReLU, valid)
    conv_dropout   Dropout(0.1)
    dense_td       Dense(k, ReLU) on every position (= TimeDistributed Dense, without the wrapper)
    pool           MaxPool1D(pool, stride pool), pool = w // 2 by default
    bilstm         Bidirectional LSTM(r per direction, return sequences)
    lstm_dropout   Dropout(p)
    flatten
    dense          Dense(d, ReLU)
    dense_dropout  Dropout(p)
    [concat_meta + dense_meta: concatenate the metadata vector, Dense(d, ReLU)]
    output         Dense(n_tasks, sigmoid)

The builder takes a validated :class:`ModelConfig`; it never seeds RNGs (the trainer does).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import keras
from keras import layers, ops

from factornet_core import dna
from factornet_core.errors import FactorNetError
from factornet_core.wording import noun, plural


@dataclass(frozen=True)
class ModelConfig:
    """Architecture hyperparameters (the original FactorNet's Table S1 names in comments).

    Attributes
    ----------
    seq_len : input length L in bp (``-L``).
    track_names : ordered signal track names; ``len`` is the number of track channels.
    n_tasks : number of TFs predicted (1 for single-task).
    n_meta : length of the metadata vector (bin features + expression PCs); 0 for none.
    kernels : k, number of first-layer kernels (``-k``).
    kernel_width : w, kernel width in bp (``-w``).
    pool : max-pool size and stride; ``None`` → ``kernel_width // 2``.
    lstm_units : r, LSTM units per direction (``-r``).
    dense_units : d, dense units (``-d``).
    dropout : p, dropout after the BiLSTM and the dense layer (``-p``).
    conv_dropout : dropout after the convolution (0.1 in the original FactorNet).
    recurrent_activation : ``"sigmoid"`` (our models) or ``"keras1_hard_sigmoid"`` (imported models).
    """

    seq_len: int = 1000
    track_names: tuple[str, ...] = ("DNASE", "MAPABILITY")
    n_tasks: int = 1
    n_meta: int = 0
    kernels: int = 32
    kernel_width: int = 26
    pool: int | None = None
    lstm_units: int = 32
    dense_units: int = 128
    dropout: float = 0.5
    conv_dropout: float = 0.1
    recurrent_activation: str = "sigmoid"
    task_names: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        object.__setattr__(self, "track_names", tuple(self.track_names))
        object.__setattr__(self, "task_names", tuple(self.task_names))
        if self.pool is None:
            object.__setattr__(self, "pool", max(1, self.kernel_width // 2))
        for name in ("seq_len", "n_tasks", "kernels", "kernel_width", "pool", "lstm_units", "dense_units"):
            if int(getattr(self, name)) < 1:
                raise FactorNetError(f"model setting {name} must be ≥ 1, got {getattr(self, name)}")
        if self.n_meta < 0:
            raise FactorNetError(f"model setting n_meta must be ≥ 0, got {self.n_meta}")
        for name in ("dropout", "conv_dropout"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise FactorNetError(f"model setting {name} must be in [0, 1), got {getattr(self, name)}")
        if self.pooled_length < 1:
            raise FactorNetError(
                f"sequence length {self.seq_len} is too short for kernel width {self.kernel_width} "
                f"and pooling {self.pool}: need L ≥ {self.kernel_width + self.pool - 1}"
            )
        if self.task_names and len(self.task_names) != self.n_tasks:
            raise FactorNetError(f"{len(self.task_names)} task names for {plural(self.n_tasks, 'task')}")
        if self.recurrent_activation not in ("sigmoid", "keras1_hard_sigmoid"):
            raise FactorNetError(f"unknown recurrent activation {self.recurrent_activation!r}")

    @property
    def n_channels(self) -> int:
        return 4 + len(self.track_names)

    @property
    def conv_length(self) -> int:
        return self.seq_len - self.kernel_width + 1

    @property
    def pooled_length(self) -> int:
        return self.conv_length // self.pool

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, values: Mapping) -> ModelConfig:
        """Build from a mapping, rejecting keys this version does not know."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise FactorNetError(f"unknown model {noun(unknown, 'setting')}: {', '.join(unknown)}")
        return cls(**dict(values))


@keras.saving.register_keras_serializable(package="factornet")
def keras1_hard_sigmoid(x):
    """Keras 1's hard sigmoid, clip(0.2·x + 0.5, 0, 1) — not Keras 3's (x/6 + 0.5); for imported models."""
    return ops.clip(0.2 * x + 0.5, 0.0, 1.0)


@keras.saving.register_keras_serializable(package="factornet")
class StrandFlip(layers.Layer):
    """The other strand of a model input ``(batch, L, channels)``: reverse positions, permute channels.

    ``permutation`` is :func:`factornet_core.dna.input_strand_permutation` of the track names
    (A↔T, C↔G, and ``*_fwd``/``*_rev`` tracks swapped).
    """

    def __init__(self, permutation: Sequence[int], **kwargs):
        super().__init__(**kwargs)
        self.permutation = [int(p) for p in permutation]

    def call(self, x):
        return ops.take(ops.flip(x, axis=1), self.permutation, axis=2)

    def get_config(self) -> dict:
        return {**super().get_config(), "permutation": self.permutation}


def build_strand(cfg: ModelConfig) -> keras.Model:
    """The shared single-strand stack: ``(x[, meta]) → (n_tasks,)`` sigmoid scores."""
    x_in = keras.Input((cfg.seq_len, cfg.n_channels), name="strand_input")
    inputs = [x_in]
    x = layers.Conv1D(cfg.kernels, cfg.kernel_width, activation="relu", padding="valid", name="conv_motifs")(
        x_in
    )
    x = layers.Dropout(cfg.conv_dropout, name="conv_dropout")(x)
    x = layers.Dense(cfg.kernels, activation="relu", name="dense_td")(x)
    x = layers.MaxPooling1D(cfg.pool, strides=cfg.pool, name="pool")(x)
    recurrent = keras1_hard_sigmoid if cfg.recurrent_activation == "keras1_hard_sigmoid" else "sigmoid"
    lstm = layers.LSTM(cfg.lstm_units, return_sequences=True, recurrent_activation=recurrent, name="lstm")
    x = layers.Bidirectional(lstm, merge_mode="concat", name="bilstm")(x)
    x = layers.Dropout(cfg.dropout, name="lstm_dropout")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(cfg.dense_units, activation="relu", name="dense")(x)
    x = layers.Dropout(cfg.dropout, name="dense_dropout")(x)
    if cfg.n_meta:
        m_in = keras.Input((cfg.n_meta,), name="strand_meta")
        inputs.append(m_in)
        x = layers.Concatenate(name="concat_meta")([x, m_in])
        x = layers.Dense(cfg.dense_units, activation="relu", name="dense_meta")(x)
    out = layers.Dense(cfg.n_tasks, activation="sigmoid", dtype="float32", name="output")(x)
    return keras.Model(inputs, out, name="strand")


def build_model(cfg: ModelConfig) -> keras.Model:
    """The Siamese model: inputs ``dna_tracks (L, 4 + n_tracks)`` [+ ``metadata (n_meta,)``] → ``(n_tasks,)``."""
    x_in = keras.Input((cfg.seq_len, cfg.n_channels), name="dna_tracks")
    inputs = [x_in]
    strand = build_strand(cfg)
    x_rc = StrandFlip(dna.input_strand_permutation(cfg.track_names), name="reverse_strand")(x_in)
    if cfg.n_meta:
        m_in = keras.Input((cfg.n_meta,), name="metadata")
        inputs.append(m_in)
        fwd, rev = strand([x_in, m_in]), strand([x_rc, m_in])
    else:
        fwd, rev = strand(x_in), strand(x_rc)
    out = layers.Average(name="strand_average")([fwd, rev])
    return keras.Model(inputs, out, name="factornet")


def strand_model(model: keras.Model) -> keras.Model:
    """The shared single-strand stack inside a Siamese model (for interpretation and fast prediction)."""
    return model.get_layer("strand")


def motif_kernel(pwm, kernel_width: int, n_channels: int, scale: float = 1.0, pseudocount: float = 0.01):
    """A first-layer kernel and bias that detect ``pwm`` (``(width, 4)`` probabilities).

    Scaling for a ReLU convolution: the weights are natural-log odds against a uniform background,
    ``ln((p + ε) / (0.25 + ε))`` with ε = 0.01 — the score a PWM scanner computes — times ``scale``
    (1 by default); the bias is ``-scale · S_max / 2`` with ``S_max`` the best achievable log-odds
    score, so a site scoring less than half the best match gives 0 after the ReLU and a perfect site
    gives ``scale · S_max / 2``. The PWM is centred in the kernel (cut to its central columns if wider
    than the kernel, :func:`motif_columns`); track channels get 0.

    Why 1 and not a Glorot-sized 0.1: on the demo's simulation (``factornet_core.recipe``, 12 epochs)
    the network first learns accessibility and starts using the motif only after a seed-dependent
    "breakthrough". With scale 0.1 seed 2 never got there (held-out auPR 0.225; seed 1: 0.962); with
    scale 1 seeds 1, 2, 3 all did (0.977, 0.983, 0.985), measured 2026-11-29.

    Returns ``(kernel (kernel_width, n_channels), bias float)``.
    """
    import numpy as np

    pwm = np.asarray(pwm, dtype=np.float64)
    start, end = motif_columns(pwm.shape[0], kernel_width)
    pwm = pwm[start:end]
    logodds = np.log((pwm + pseudocount) / (0.25 + pseudocount))
    kernel = np.zeros((kernel_width, n_channels), dtype=np.float32)
    offset = (kernel_width - pwm.shape[0]) // 2
    kernel[offset : offset + pwm.shape[0], :4] = scale * logodds
    bias = -scale * logodds.max(axis=1).sum() / 2
    return kernel, float(bias)


def motif_columns(width: int, kernel_width: int) -> tuple[int, int]:
    """The columns ``[start, end)`` (0-based) of a ``width``-bp motif that a ``kernel_width``-bp kernel
    holds: all of them when the motif fits, else its central ``kernel_width`` (an odd extra column is cut
    at the end: 27 into 26 keeps ``[0, 26)``, 30 into 26 keeps ``[2, 28)``)."""
    cut = max(width - kernel_width, 0) // 2
    return cut, cut + min(width, kernel_width)


def set_motif_kernels(model: keras.Model, pwm, scale: float = 1.0) -> None:
    """Set kernel 0 to detect ``pwm`` on the given strand and kernel 1 its reverse complement
    (:func:`motif_kernel` at ``scale``)."""
    import numpy as np

    conv = strand_model(model).get_layer("conv_motifs")
    weights, bias = conv.get_weights()
    width, channels, n_kernels = weights.shape
    if n_kernels < 2:
        raise FactorNetError("motif initialisation needs at least 2 kernels (-k)")
    fwd, b = motif_kernel(pwm, width, channels, scale)
    rc, _ = motif_kernel(np.asarray(pwm)[::-1, ::-1], width, channels, scale)
    weights[:, :, 0], weights[:, :, 1] = fwd, rc
    bias[0] = bias[1] = b
    conv.set_weights([weights, bias])
