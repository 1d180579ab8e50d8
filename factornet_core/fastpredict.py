"""Shared-convolution prediction: the Siamese model's scores for many overlapping windows at once.

Grid windows step 50 bp, so neighbouring 1 kb windows share 95 % of their convolution. Instead of
running the whole model on every window, for a run of nearby windows on one chromosome we

1. read ONE span covering all of them (N / zero padded past the chromosome ends exactly as a
   window is, so every window is a slice of the span);
2. run ``conv_motifs`` (+ReLU) and ``dense_td`` (+ReLU) over the whole span once per strand
   (forward, and the reverse strand = :class:`~factornet_core.model.StrandFlip` of the span, in which
   window ``i`` at offset ``o`` becomes the window at ``S - L - o``);
3. take a sliding max of width ``pool`` over the span's features, so that the pooled output of a
   window at offset ``o`` is ``M[o + j * pool]`` for ``j < P`` — one gather, whatever the window's
   phase relative to the pool grid (50 bp steps and ``pool = 13`` give 13 phases);
4. run the BiLSTM + dense head (the trained layers themselves) on the gathered ``(n, P, k)`` inputs
   of both strands and average the two sigmoid outputs, as the ``strand_average`` layer does.

Convolution is linear and position-invariant, so this is the per-window model up to float32
rounding (``max |Δ| ≤ 1e-5``, tested). The per-position work drops from ``L`` positions per window
to ``stride`` positions; what is left per window is the pooled BiLSTM and the dense head.

Memory: a span covers at most ``max_span`` bp (default 2¹⁷), so the features are bounded
(``max_span × k × 4`` bytes per strand) whatever the chromosome length. Windows farther apart than
``seq_len`` start a new span (a BED of scattered bins does not convolve the gaps between them).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from factornet_core.windows import WindowReader, window_starts

# Layers of the strand sub-model the head is rebuilt from (build_model's names).
_HEAD_LAYERS = ("bilstm", "flatten", "dense", "output")
MAX_SPAN = 1 << 17


def supports(model) -> bool:
    """True when ``model`` is a FactorNet Siamese model this predictor can reproduce exactly."""
    try:
        strand = model.get_layer("strand")
        model.get_layer("reverse_strand")
        conv, pool = strand.get_layer("conv_motifs"), strand.get_layer("pool")
        strand.get_layer("dense_td")
        for name in _HEAD_LAYERS:
            strand.get_layer(name)
    except (ValueError, AttributeError):
        return False
    return (
        conv.padding == "valid"
        and tuple(conv.strides) == (1,)
        and tuple(conv.dilation_rate) == (1,)
        and pool.padding == "valid"
        and tuple(pool.pool_size) == tuple(pool.strides)
    )


def span_groups(starts: np.ndarray, seq_len: int, max_span: int = MAX_SPAN) -> Iterator[np.ndarray]:
    """Indices into ``starts`` (window starts) of runs read and convolved as one span.

    Runs are consecutive in sorted order; a run is cut where two sorted starts are ``≥ seq_len``
    apart (the windows do not overlap) or where the span would exceed ``max_span + seq_len`` bp.
    """
    order = np.argsort(starts, kind="stable")
    s = np.asarray(starts)[order]
    bounds = [0, *(np.flatnonzero(np.diff(s) >= seq_len) + 1).tolist(), s.size]
    for a, b in zip(bounds[:-1], bounds[1:]):
        while a < b:
            end = min(b, int(np.searchsorted(s, s[a] + max_span, side="right")))
            yield order[a:end]
            a = end


class SharedConvPredictor:
    """Scores ``(n, n_tasks) float32`` of a Siamese FactorNet model, sharing convolution across windows.

    Parameters
    ----------
    model : the Siamese ``keras.Model`` (:func:`factornet_core.model.build_model`, loaded or imported).
    batch_size : windows per head call (each runs both strands, so the LSTM batch is twice this).
    max_span : most bp of window starts convolved as one span (bounds memory).
    """

    def __init__(self, model, batch_size: int = 500, max_span: int = MAX_SPAN):
        import tensorflow as tf

        if not supports(model):
            raise ValueError("not a FactorNet Siamese model: use per-window prediction")
        strand = model.get_layer("strand")
        self.seq_len = int(model.inputs[0].shape[1])
        self.n_channels = int(model.inputs[0].shape[2])
        self.n_meta = int(model.inputs[1].shape[1]) if len(model.inputs) > 1 else 0
        self.permutation = list(model.get_layer("reverse_strand").permutation)
        conv, dense_td = strand.get_layer("conv_motifs"), strand.get_layer("dense_td")
        self.width = int(conv.kernel_size[0])
        self.pool = int(strand.get_layer("pool").pool_size[0])
        self.n_pooled = (self.seq_len - self.width + 1) // self.pool
        self.batch_size, self.max_span = int(batch_size), int(max_span)
        layer = strand.get_layer
        head = [layer(n) for n in _HEAD_LAYERS]
        concat = dense_meta = None
        if self.n_meta:
            concat, dense_meta = layer("concat_meta"), layer("dense_meta")
        pool, n_pooled, width, seq_len = self.pool, self.n_pooled, self.width, self.seq_len
        permutation = tf.constant(self.permutation, tf.int32)
        feature_dtype = tf.as_dtype(dense_td.compute_dtype)

        def features(span):
            """(S, C) span → (S - width - pool + 2, k): sliding max of the per-position features."""
            h = dense_td(conv(span[None], training=False), training=False)
            return tf.nn.max_pool1d(h, pool, 1, "VALID")[0]

        @tf.function(input_signature=[tf.TensorSpec([None, self.n_channels], tf.float32)])
        def both_strands(span):
            flipped = tf.gather(tf.reverse(span, [0]), permutation, axis=1)
            return features(span), features(flipped)

        steps = tf.range(n_pooled, dtype=tf.int32) * pool

        @tf.function(
            input_signature=[
                tf.TensorSpec([None, None], feature_dtype),
                tf.TensorSpec([None, None], feature_dtype),
                tf.TensorSpec([None], tf.int32),
                tf.TensorSpec([None, self.n_meta], tf.float32),
            ]
        )
        def scores(fwd, rev, offsets, meta):
            n_span = tf.shape(fwd)[0] + width + pool - 2  # span length S
            x = tf.concat(
                [
                    tf.gather(fwd, offsets[:, None] + steps[None, :]),
                    tf.gather(rev, (n_span - seq_len - offsets)[:, None] + steps[None, :]),
                ],
                axis=0,
            )
            x = head[0](x, training=False)  # bilstm
            x = head[1](x)  # flatten
            x = head[2](x, training=False)  # dense
            if concat is not None:
                x = dense_meta(concat([x, tf.concat([meta, meta], axis=0)]), training=False)
            y = head[3](x, training=False)
            n = tf.shape(offsets)[0]
            return (y[:n] + y[n:]) / 2.0

        # traced here, once per model, with open batch and span sizes: a fresh tf.function per model
        # called in a loop would count as retracing one function (TensorFlow keys its retracing
        # warning on the shared code) and log warnings after a few models
        self._both_strands = both_strands.get_concrete_function()
        self._scores = scores.get_concrete_function()

    def predict_span(
        self, span: np.ndarray, offsets: np.ndarray, meta: np.ndarray | None = None
    ) -> np.ndarray:
        """Scores of the windows ``span[o : o + seq_len]`` for ``o`` in ``offsets``.

        ``span`` : ``(S, n_channels) float32``; ``offsets`` : ``(n,)`` ints in ``[0, S - seq_len]``;
        ``meta`` : ``(n, n_meta) float32`` (models with metadata). Returns ``(n, n_tasks) float32``.
        """
        offsets = np.asarray(offsets, dtype=np.int32)
        if offsets.size and (offsets.min() < 0 or offsets.max() > span.shape[0] - self.seq_len):
            raise ValueError("a window reaches outside the span")
        meta = self._meta(meta, offsets.size)
        fwd, rev = self._both_strands(np.ascontiguousarray(span, dtype=np.float32))
        out = []
        for lo in range(0, offsets.size, self.batch_size):
            hi = min(lo + self.batch_size, offsets.size)
            out.append(np.asarray(self._scores(fwd, rev, offsets[lo:hi], meta[lo:hi]), dtype=np.float32))
        return np.concatenate(out, axis=0) if out else np.zeros((0, 0), np.float32)

    def predict_bins(
        self, reader: WindowReader, chrom: str, bin_starts: np.ndarray, meta: np.ndarray | None = None
    ) -> np.ndarray:
        """Scores for bins on one chromosome, in the order given (any bins: grid or not)."""
        return predict_bins_shared([self], reader, chrom, bin_starts, [meta])[0]

    def _meta(self, meta: np.ndarray | None, n: int) -> np.ndarray:
        if self.n_meta == 0:
            return np.zeros((n, 0), np.float32)
        if meta is None or meta.shape != (n, self.n_meta):
            raise ValueError(f"the model needs metadata of shape ({n}, {self.n_meta})")
        return np.asarray(meta, dtype=np.float32)


def predict_bins_shared(
    predictors: Sequence[SharedConvPredictor],
    reader: WindowReader,
    chrom: str,
    bin_starts: np.ndarray,
    metas: Sequence[np.ndarray | None],
    channels: Sequence[Sequence[int] | None] | None = None,
) -> list[np.ndarray]:
    """Several models' scores for the same bins, each span read ONCE and given to every model.

    This is how ``factornet impute`` applies many published models to one cell type (the paper's
    "one assay → dozens of TF binding profiles"), and :meth:`SharedConvPredictor.predict_bins` is its
    one-model case, so a model scores identically in ``predict`` and ``impute``.

    Parameters
    ----------
    predictors : models with the same ``seq_len`` and ``max_span``.
    reader : reads ``(S, 4 + n_tracks)`` spans; its tracks may be a superset of a model's.
    chrom, bin_starts : bins on one chromosome (bp, 0-based), any order.
    metas : per model, ``(n, n_meta) float32`` metadata rows or None.
    channels : per model, the reader channels it takes in its input order (A/C/G/T first), or None
        for all of them.

    Returns
    -------
    list of ``(n, n_tasks_i) float32``, one per model, bins in the order given.
    """
    if len({(p.seq_len, p.max_span) for p in predictors}) > 1:
        raise ValueError("models sharing spans need the same seq_len and max_span")
    first = predictors[0]
    channels = channels or [None] * len(predictors)
    starts = window_starts(bin_starts, reader.bin_size, first.seq_len)
    metas = [p._meta(m, starts.size) for p, m in zip(predictors, metas)]
    outs: list[np.ndarray | None] = [None] * len(predictors)
    for group in span_groups(starts, first.seq_len, first.max_span):
        lo = int(starts[group].min())
        span = reader.region(chrom, lo, int(starts[group].max()) + first.seq_len)
        for i, predictor in enumerate(predictors):
            view = span if channels[i] is None else span[:, list(channels[i])]
            part = predictor.predict_span(view, starts[group] - lo, metas[i][group])
            if outs[i] is None:
                outs[i] = np.empty((starts.size, part.shape[1]), dtype=np.float32)
            outs[i][group] = part
    return [o if o is not None else np.zeros((0, 0), np.float32) for o in outs]
