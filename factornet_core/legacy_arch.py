"""Match a legacy FactorNet ``model.json`` (Keras 1 graph) onto our :class:`~factornet_core.model.ModelConfig`.

The graph this accepts is described in :mod:`factornet_core.legacy`: two sequence inputs through one
shared chain ``Conv1D → TimeDistributed(Dense) → MaxPooling1D → Bidirectional(LSTM) → Flatten → Dense
[→ Merge(meta) → Dense] → Dense(sigmoid)`` ending in a strand-averaging ``Merge``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from factornet_core.errors import FactorNetError
from factornet_core.wording import plural

if TYPE_CHECKING:
    from factornet_core.legacy import LegacyFolder

KNOWN_LAYERS = (
    "InputLayer",
    "Convolution1D",
    "Dropout",
    "TimeDistributed",
    "MaxPooling1D",
    "Bidirectional",
    "Flatten",
    "Dense",
    "Merge",
)


# ------------------------------------------------------------------------------ the architecture
@dataclass
class LegacyArchitecture:
    """The legacy graph matched onto our builder: config + which legacy layer feeds each of ours."""

    config: object  # factornet_core.model.ModelConfig
    layer_map: dict[str, str]  # our layer name → legacy layer name
    meta_first: bool = False  # the legacy concat put the metadata before the dense output
    keras_version: str = "?"
    dropouts: dict[str, float] = field(default_factory=dict)


def _layers(model_json: dict) -> dict[str, dict]:
    try:
        layers = model_json["config"]["layers"]
        return {layer["name"]: layer for layer in layers}
    except (KeyError, TypeError):
        raise FactorNetError(
            "model.json: not a Keras 1 functional model (no config.layers); was it saved with model.to_json()?"
        ) from None


def _consumers(layers: dict[str, dict], tensor: tuple[str, int]) -> list[tuple[str, int, list]]:
    """Layers (and their node index) that take ``tensor`` = (layer, node) as an input."""
    out = []
    for name, layer in layers.items():
        for k, node in enumerate(layer.get("inbound_nodes") or []):
            refs = [(r[0], r[1]) for r in node]
            if tensor in refs:
                out.append((name, k, refs))
    return out


def _walk(layers: dict[str, dict], start: str) -> list[tuple[str, list]]:
    """The chain of layers from input ``start`` to the strand-averaging merge (inclusive)."""
    tensor, path = (start, 0), []
    while True:
        nxt = _consumers(layers, tensor)
        if not nxt:
            return path
        if len(nxt) > 1:
            names = ", ".join(n for n, _, _ in nxt)
            raise FactorNetError(
                f"model.json: {tensor[0]} feeds several layers ({names}); FactorNet's graph is a chain"
            )
        name, k, refs = nxt[0]
        path.append((name, refs))
        if len(path) > 200:
            raise FactorNetError("model.json: the layer graph has a cycle")
        tensor = (name, k)


def _cfg(layer: dict) -> dict:
    return layer.get("config") or {}


def _require(cond: bool, layer: dict, what: str) -> None:
    if not cond:
        raise FactorNetError(
            f"model.json: layer {layer['name']} ({layer['class_name']}) {what}; "
            "the importer handles FactorNet's CNN + BiLSTM architecture only"
        )


class _ChainMatch:
    """The forward strand's layer chain, consumed in order while it is matched onto our stack."""

    def __init__(self, chain: list[tuple[dict, list]]):
        self.chain = chain
        self.pos = 0
        self.layer_map: dict[str, str] = {}  # our layer name → legacy layer name
        self.dropouts: dict[str, float] = {}  # our stage → the first legacy Dropout rate after it

    def peek(self) -> tuple[dict, list] | None:
        return self.chain[self.pos] if self.pos < len(self.chain) else None

    def skip_dropouts(self, key: str) -> None:
        while self.pos < len(self.chain) and self.chain[self.pos][0]["class_name"] == "Dropout":
            self.dropouts.setdefault(key, float(_cfg(self.chain[self.pos][0]).get("p", 0.0)))
            self.pos += 1

    def take(self, cls: str, what: str) -> dict:
        chain, pos = self.chain, self.pos
        if pos >= len(chain) or chain[pos][0]["class_name"] != cls:
            got = (
                f"{chain[pos][0]['name']} ({chain[pos][0]['class_name']})" if pos < len(chain) else "the end"
            )
            seq = " → ".join(layer["class_name"] for layer, _ in chain)
            raise FactorNetError(
                f"model.json: expected {cls} ({what}) but found {got}; the layer chain {seq} is not "
                "FactorNet's Conv1D → TimeDistributed(Dense) → MaxPooling1D → Bidirectional(LSTM) → "
                "Flatten → Dense [→ Merge(meta) → Dense] → Dense(sigmoid)"
            )
        self.pos += 1
        return chain[pos][0]


def _check_layer_kinds(layers: dict[str, dict]) -> None:
    """Every layer is one FactorNet uses; the wrappers wrap a Dense / an LSTM."""
    unknown = [
        f"{name} ({layer.get('class_name')})"
        for name, layer in layers.items()
        if layer.get("class_name") not in KNOWN_LAYERS
    ]
    if unknown:
        raise FactorNetError(
            f"model.json has layers the importer does not know: {', '.join(unknown)} "
            f"(known: {', '.join(KNOWN_LAYERS)})"
        )
    for layer in layers.values():
        if layer["class_name"] == "TimeDistributed":
            inner = _cfg(layer).get("layer", {}).get("class_name")
            _require(inner == "Dense", layer, f"wraps {inner}, not Dense")
        if layer["class_name"] == "Bidirectional":
            inner = _cfg(layer).get("layer", {}).get("class_name")
            _require(inner == "LSTM", layer, f"wraps {inner}, not LSTM")


def _split_inputs(model_json: dict, layers: dict[str, dict]) -> tuple[list[str], str | None]:
    """The two sequence inputs (forward, reverse complement) and the metadata input or None."""
    inputs = [ref[0] for ref in model_json["config"].get("input_layers", [])]
    seq_inputs = [n for n in inputs if len(_cfg(layers[n]).get("batch_input_shape") or []) == 3]
    meta_inputs = [n for n in inputs if len(_cfg(layers[n]).get("batch_input_shape") or []) == 2]
    if len(seq_inputs) != 2 or len(meta_inputs) > 1 or len(inputs) != len(seq_inputs) + len(meta_inputs):
        raise FactorNetError(
            f"model.json: inputs {', '.join(inputs)} are not FactorNet's (forward sequence, reverse-complement "
            "sequence[, metadata])"
        )
    return seq_inputs, (meta_inputs[0] if meta_inputs else None)


def _shared_chain(
    model_json: dict, layers: dict[str, dict], seq_inputs: list[str]
) -> list[tuple[dict, list]]:
    """The forward strand's ``(layer, inbound refs)`` up to (not incl.) the strand average, checked to be
    shared with the reverse strand and to be the model's only output."""
    fwd, rev = _walk(layers, seq_inputs[0]), _walk(layers, seq_inputs[1])
    if not fwd or not rev or fwd[-1][0] != rev[-1][0]:
        raise FactorNetError("model.json: the two strands do not end in one shared averaging merge")
    merge = layers[fwd[-1][0]]
    _require(
        merge["class_name"] == "Merge" and _cfg(merge).get("mode") == "ave",
        merge,
        "should average the two strands (Merge mode 'ave')",
    )
    outputs = [ref[0] for ref in model_json["config"].get("output_layers", [])]
    if outputs != [merge["name"]]:
        raise FactorNetError(f"model.json: outputs {outputs} are not the strand average {merge['name']}")

    def shared_names(path):
        return [n for n, _ in path[:-1] if layers[n]["class_name"] != "Merge"]

    if shared_names(fwd) != shared_names(rev):
        raise FactorNetError("model.json: the two strands do not pass through the same (shared) layers")
    return [(layers[n], refs) for n, refs in fwd[:-1]]


def _match_conv(m: _ChainMatch) -> tuple[int, int]:
    """The motif convolution → (kernels, kernel width)."""
    conv = m.take("Convolution1D", "the motif convolution")
    c = _cfg(conv)
    _require(c.get("activation") == "relu", conv, "has activation other than relu")
    _require(c.get("border_mode", "valid") == "valid", conv, "does not use border_mode 'valid'")
    _require(int(c.get("subsample_length", 1)) == 1, conv, "has a stride other than 1")
    _require(c.get("bias", True), conv, "has no bias")
    kernels, width = int(c["nb_filter"]), int(c["filter_length"])
    m.layer_map["conv_motifs"] = conv["name"]
    m.skip_dropouts("conv")
    return kernels, width


def _match_dense_td(m: _ChainMatch, kernels: int) -> None:
    """The per-position ``TimeDistributed(Dense)`` with as many units as kernels."""
    td = m.take("TimeDistributed", "the per-position dense layer")
    tdc = _cfg(td)["layer"]["config"]
    _require(tdc.get("activation") == "relu", td, "is not a relu Dense")
    _require(
        int(tdc.get("output_dim", -1)) == kernels,
        td,
        f"has {tdc.get('output_dim')} units, not nb_filter={kernels}",
    )
    m.layer_map["dense_td"] = td["name"]
    m.skip_dropouts("td")


def _match_pool(m: _ChainMatch) -> int:
    """The non-overlapping max pooling → its size."""
    pool = m.take("MaxPooling1D", "the pooling")
    pc = _cfg(pool)
    pool_len = int(pc["pool_length"])
    _require(int(pc.get("stride") or pool_len) == pool_len, pool, "has a stride different from its size")
    _require(pc.get("border_mode", "valid") == "valid", pool, "does not use border_mode 'valid'")
    m.skip_dropouts("pool")
    return pool_len


def _match_bilstm(m: _ChainMatch) -> tuple[int, str]:
    """The concatenating BiLSTM → (units per direction, the gates' inner activation)."""
    bi = m.take("Bidirectional", "the BiLSTM")
    bc = _cfg(bi)
    lc = bc["layer"]["config"]
    _require(bc.get("merge_mode", "concat") == "concat", bi, "does not concatenate the two directions")
    _require(lc.get("return_sequences") is True, bi, "does not return sequences")
    _require(not lc.get("go_backwards", False), bi, "wraps a go_backwards LSTM")
    _require(lc.get("activation", "tanh") == "tanh", bi, "uses an LSTM activation other than tanh")
    inner = lc.get("inner_activation", "hard_sigmoid")
    _require(inner in ("hard_sigmoid", "sigmoid"), bi, f"uses inner_activation {inner!r}")
    lstm_units = int(lc["output_dim"])
    m.layer_map["bilstm"] = bi["name"]
    m.skip_dropouts("lstm")
    return lstm_units, inner


def _match_flatten_dense(m: _ChainMatch) -> int:
    """``Flatten`` then the relu ``Dense`` → its units."""
    m.take("Flatten", "the flatten")
    m.skip_dropouts("flatten")
    dense = m.take("Dense", "the dense layer")
    _require(_cfg(dense).get("activation") == "relu", dense, "is not a relu Dense")
    dense_units = int(_cfg(dense)["output_dim"])
    m.layer_map["dense"] = dense["name"]
    m.skip_dropouts("dense")
    return dense_units


def _match_meta(
    m: _ChainMatch, layers: dict[str, dict], meta_in: str | None, dense_units: int
) -> tuple[int, bool]:
    """The optional metadata concat and the Dense after it → (n_meta, metadata concatenated first)."""
    nxt = m.peek()
    if nxt is not None and nxt[0]["class_name"] == "Merge":
        concat, refs = nxt
        _require(meta_in is not None, concat, "merges something although the model has no metadata input")
        _require(
            _cfg(concat).get("mode") == "concat" and len(refs) == 2 and (meta_in, 0) in refs,
            concat,
            "should concatenate the dense output with the metadata input",
        )
        meta_first = refs[0] == (meta_in, 0)
        m.pos += 1
        n_meta = int(_cfg(layers[meta_in])["batch_input_shape"][1])
        m.skip_dropouts("concat")
        dense_meta = m.take("Dense", "the dense layer after the metadata")
        _require(_cfg(dense_meta).get("activation") == "relu", dense_meta, "is not a relu Dense")
        _require(
            int(_cfg(dense_meta)["output_dim"]) == dense_units,
            dense_meta,
            f"has {_cfg(dense_meta)['output_dim']} units, the first dense layer {dense_units}",
        )
        m.layer_map["dense_meta"] = dense_meta["name"]
        m.skip_dropouts("dense_meta")
        return n_meta, meta_first
    if meta_in is not None:
        raise FactorNetError(
            f"model.json: metadata input {meta_in} is not concatenated after the dense layer"
        )
    return 0, False


def _match_output(m: _ChainMatch) -> dict:
    """The sigmoid output layer, which must end the chain."""
    out = m.take("Dense", "the sigmoid output")
    _require(_cfg(out).get("activation") == "sigmoid", out, "is not a sigmoid Dense")
    m.layer_map["output"] = out["name"]
    if m.pos != len(m.chain):
        raise FactorNetError(
            f"model.json: unexpected layer {m.chain[m.pos][0]['name']} after the output layer"
        )
    return out


def _check_sizes(
    legacy: LegacyFolder, layers: dict[str, dict], seq_input: str, out: dict, n_meta: int
) -> tuple[int, int]:
    """Input channels, tasks and metadata agree with the folder's text files → (seq_len, n_tasks)."""
    shape = _cfg(layers[seq_input])["batch_input_shape"]
    seq_len, channels = shape[1], shape[2]
    if seq_len is None:
        raise FactorNetError("model.json: the sequence input has no fixed length")
    if channels != 4 + len(legacy.track_names):
        raise FactorNetError(
            f"model.json takes {channels} input channels but bigwig.txt names "
            f"{plural(legacy.track_names, 'track')} ({', '.join(legacy.track_names) or 'none'}): expected 4 + tracks"
        )
    n_tasks = int(_cfg(out)["output_dim"])
    if n_tasks != len(legacy.tfs):
        raise FactorNetError(
            f"model.json predicts {plural(n_tasks, 'task')} but chip.txt names {len(legacy.tfs)}"
        )
    want_meta = len(legacy.meta_names) + (6 if "gencode" in legacy.features else 0)
    if n_meta != want_meta:
        raise FactorNetError(
            f"model.json takes {n_meta} metadata inputs but feature.txt/meta.txt imply {want_meta} "
            f"({len(legacy.meta_names)} from meta.txt + {6 if 'gencode' in legacy.features else 0} GENCODE)"
        )
    return int(seq_len), n_tasks


def parse_architecture(legacy: LegacyFolder) -> LegacyArchitecture:
    """Match ``model.json`` onto :class:`~factornet_core.model.ModelConfig` and name the weighted layers.

    Raises :class:`FactorNetError` naming unknown layers, a graph that is not FactorNet's Siamese chain,
    or sizes that disagree with ``bigwig.txt`` / ``chip.txt`` / ``meta.txt`` + ``feature.txt``.
    """
    from factornet_core.model import ModelConfig

    layers = _layers(legacy.model_json)
    _check_layer_kinds(layers)
    seq_inputs, meta_in = _split_inputs(legacy.model_json, layers)
    m = _ChainMatch(_shared_chain(legacy.model_json, layers, seq_inputs))
    kernels, width = _match_conv(m)
    _match_dense_td(m, kernels)
    pool_len = _match_pool(m)
    lstm_units, inner = _match_bilstm(m)
    dense_units = _match_flatten_dense(m)
    n_meta, meta_first = _match_meta(m, layers, meta_in, dense_units)
    out = _match_output(m)
    seq_len, n_tasks = _check_sizes(legacy, layers, seq_inputs[0], out, n_meta)
    dropouts = m.dropouts
    cfg = ModelConfig(
        seq_len=seq_len,
        track_names=tuple(legacy.track_names),
        n_tasks=n_tasks,
        n_meta=n_meta,
        kernels=kernels,
        kernel_width=width,
        pool=pool_len,
        lstm_units=lstm_units,
        dense_units=dense_units,
        dropout=dropouts.get("lstm", dropouts.get("flatten", 0.0)),
        conv_dropout=dropouts.get("conv", 0.0),
        recurrent_activation="keras1_hard_sigmoid" if inner == "hard_sigmoid" else "sigmoid",
        task_names=tuple(legacy.tfs),
    )
    return LegacyArchitecture(
        cfg, m.layer_map, meta_first, str(legacy.model_json.get("keras_version", "?")), dropouts
    )
