"""The FactorNet model card: what a model file says about the inputs it expects.

A card travels inside every ``.keras`` model (:mod:`factornet_core.modelfile`) as
``factornet_card.json``. It is the contract between training (or ``import-legacy``) and everything
that applies a model: track names in channel order, TF names in output order, window and bin
geometry, the metadata vector's layout, chromosome naming, plus free-form training parameters and
provenance. :class:`ModelCard` is its one typed form: it is validated when built and when read, so a
tampered or inconsistent card fails with one :class:`FactorNetError` line instead of a ``KeyError``
deep inside prediction.

Versions
--------
* card version 1 — factornet 0.1.0: an untyped dict, versioned by ``"format": 1``, optional keys
  (``expression_source``, ``config``, ``training``, ``provenance``) sometimes absent.
* card version 2 — this module: the same keys, versioned by ``"card_version": 2``;
  ``expression_source`` is ``"pca"`` (basis stored in the model) or ``"meta_values"`` (values given
  per cell type, models imported from the original FactorNet) whenever expression PCs are used.

* card version 3 — adds ``track_norms``: track name → the normalisation applied to that track per
  cell type (``none``, ``1x``, ``minmax:P``; :mod:`factornet_core.tracknorm`). Older cards read as
  ``none`` for every track — what they were trained with. A rule's statistic covers every chromosome
  the genome and the cell type's bigWig share (``training.track_norm_scope`` says so); development
  builds before that scaled over the chromosomes each run read (no ``track_norm_scope``), a definition
  that was never shard-stable and is not kept: such a model is read with today's, which differs from
  its training scale by the depth's variation between chromosomes (1-2 % on simulated data); no
  released factornet wrote card version 3, so the version is not bumped.

Older cards are read and upgraded in memory; the file is not rewritten.

The ``training`` record is free-form and not versioned with the card (a change there does not make an
older factornet refuse a newer model). Its motif entries (:mod:`factornet_core.motifinit`):
``motif_init`` (bool), then ``motif_source``, a portable record of the motif kernels 0/1 started from
(``source`` ``packaged``, ``jaspar`` or ``file``; name or matrix ID and version, width, sha256 of the
matrix, a user file by base name only, ``columns_used`` when the motif was wider than the kernels), or
``motif_not_found`` when the TF's own motif was missing. Cards written before held ``source``
``"JASPAR"`` or ``"MEME"`` with the file's path, and the notice text as ``motif_init_note``;
:meth:`ModelCard.motif_init_summary` reads both.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from factornet_core.errors import FactorNetError
from factornet_core.wording import noun, plural

CARD_VERSION = 3
N_ANNOTATION_FEATURES = 6  # annotations.FEATURES: not imported here, it pulls in pybedtools
EXPRESSION_SOURCES = ("pca", "meta_values")
CHROM_NAMINGS = ("ucsc", "plain")
MODES = ("single-task", "multi-task")


@dataclass(frozen=True)
class Features:
    """Which metadata inputs the model takes: cell-level expression PCs (``-m``) and the six bin-level
    annotation flags (``-g``, CpG/CDS/intron/promoter/5′UTR/3′UTR)."""

    expression: bool = False
    gencode: bool = False


@dataclass(frozen=True)
class ModelCard:
    """A validated model card (see the module docstring for the JSON form and its versions).

    Attributes
    ----------
    tfs : TF names, in the order of the model's outputs.
    track_names : signal track names, in the order of the input channels after A/C/G/T.
    seq_len : model input length in bp.
    bin_size, bin_stride : the 200/50 bp bin grid the model scores (bp).
    features : which metadata inputs the model takes.
    metadata_names : names of the metadata vector's entries: expression PCs first, then the six
        annotation flags; empty without metadata.
    expression_source : ``"pca"`` (PCA basis stored in the model file), ``"meta_values"`` (the cell
        type's values are given, as published with an original FactorNet model), ``None`` without PCs.
    chrom_naming : ``"ucsc"`` (chr1) or ``"plain"`` (1); ``None`` when unknown (not checked).
    mode : ``"single-task"`` (one TF over several cell types) or ``"multi-task"`` (one cell type).
    config : the architecture (:meth:`factornet_core.model.ModelConfig.to_dict`); ``{}`` if unknown.
    training, provenance : free-form records of how and from what the model was made.
    track_norms : track name → normalisation rule applied per cell type from its own bigWig
        (``none``, ``1x``, ``minmax:P``); every track is listed (``none`` when not given).
    factornet_version : the package version that wrote the card.
    card_version : :data:`CARD_VERSION` once read (older cards are upgraded in memory).
    """

    tfs: tuple[str, ...]
    track_names: tuple[str, ...]
    seq_len: int
    bin_size: int = 200
    bin_stride: int = 50
    features: Features = field(default_factory=Features)
    metadata_names: tuple[str, ...] = ()
    expression_source: str | None = None
    chrom_naming: str | None = None
    mode: str = "single-task"
    config: Mapping = field(default_factory=dict)
    training: Mapping = field(default_factory=dict)
    provenance: Mapping = field(default_factory=dict)
    track_norms: Mapping = field(default_factory=dict)
    factornet_version: str = "?"
    kind: str = "factornet"
    card_version: int = CARD_VERSION

    def __post_init__(self) -> None:
        for name in ("tfs", "track_names", "metadata_names"):
            object.__setattr__(self, name, _names(getattr(self, name), name))
        if isinstance(self.features, Mapping):
            object.__setattr__(self, "features", _features(self.features))
        if self.features.expression and self.expression_source is None:
            object.__setattr__(self, "expression_source", "pca")
        for name in ("config", "training", "provenance", "track_norms"):
            if not isinstance(getattr(self, name), Mapping):
                raise FactorNetError(f"model card: {name} must be a JSON object, got {getattr(self, name)!r}")
        object.__setattr__(self, "track_norms", _track_norms(self.track_norms, self.track_names))
        _validate(self)

    # ----------------------------------------------------------------------------- derived values
    @property
    def n_meta(self) -> int:
        """Length of the metadata vector (0: the model has no metadata input)."""
        return len(self.metadata_names)

    @property
    def n_expression_pcs(self) -> int:
        """Number of expression PCs at the start of the metadata vector."""
        return self.n_meta - (N_ANNOTATION_FEATURES if self.features.gencode else 0)

    def motif_init_summary(self) -> str | None:
        """Where kernels 0/1 started, in one line (``factornet inspect``); None when the card does not say
        (models trained before it was recorded, imported ones)."""
        return _motif_init_summary(self.training, self.factornet_version)

    def model_config(self):
        """The architecture as a :class:`factornet_core.model.ModelConfig` (imports Keras)."""
        from factornet_core.model import ModelConfig

        return ModelConfig.from_dict(self.config)

    # ------------------------------------------------------------------------------- serialisation
    def to_dict(self) -> dict:
        """The JSON-ready form (lists, not tuples), always at :data:`CARD_VERSION`."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        out["features"] = dataclasses.asdict(self.features)
        for name in ("tfs", "track_names", "metadata_names"):
            out[name] = list(out[name])
        for name in ("config", "training", "provenance", "track_norms"):
            out[name] = dict(out[name])
        out["card_version"] = CARD_VERSION
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, values: Mapping, where: str = "model card") -> ModelCard:
        """Read a card of any known version, rejecting unknown keys, wrong types and inconsistencies.

        Raises
        ------
        FactorNetError
            One line naming ``where`` and the offending key.
        """
        if not isinstance(values, Mapping):
            raise FactorNetError(f"{where}: the card is not a JSON object")
        values = dict(values)
        version = _version(values, where)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise FactorNetError(
                f"{where}: unknown card {noun(unknown, 'key')} {', '.join(unknown)} (card version {version})"
            )
        missing = [k for k in ("tfs", "track_names", "seq_len") if k not in values]
        if missing:
            raise FactorNetError(f"{where}: the card lacks {', '.join(missing)}")
        if values.get("training") is None:
            values["training"] = {}
        try:
            return cls(**values)
        except FactorNetError as exc:
            raise FactorNetError(f"{where}: {str(exc).removeprefix('model card: ')}") from None

    @classmethod
    def from_json(cls, text: str | bytes, where: str = "model card") -> ModelCard:
        try:
            values = json.loads(text)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise FactorNetError(f"{where}: the card is not valid JSON ({exc})") from None
        return cls.from_dict(values, where)


def make_card(
    config: Mapping,
    tfs: Sequence[str],
    *,
    mode: str,
    features: Features,
    metadata_names: Sequence[str],
    chrom_naming: str,
    expression_source: str | None = None,
    training: Mapping | None = None,
    provenance: Mapping | None = None,
    track_norms: Mapping[str, str] | None = None,
) -> ModelCard:
    """The card of a new model, from its architecture: the ONE way training and ``import-legacy``
    write cards. Track names and sequence length come from ``config`` (a ``ModelConfig.to_dict()``),
    the bin grid is the package's 200/50 bp grid, the version is this package's.

    Raises
    ------
    FactorNetError
        When the values are inconsistent (e.g. ``len(metadata_names) != config["n_meta"]``).
    """
    from factornet_core import __version__, intervals

    return ModelCard(
        tfs=tuple(tfs),
        track_names=tuple(config["track_names"]),
        seq_len=int(config["seq_len"]),
        bin_size=intervals.BIN_SIZE,
        bin_stride=intervals.BIN_STRIDE,
        features=features,
        metadata_names=tuple(metadata_names),
        expression_source=expression_source,
        chrom_naming=chrom_naming,
        mode=mode,
        config=dict(config),
        training=dict(training or {}),
        provenance=dict(provenance or {}),
        track_norms=dict(track_norms or {}),
        factornet_version=__version__,
    )


def _motif_init_summary(training: Mapping, version: str) -> str | None:
    """:meth:`ModelCard.motif_init_summary` from the card's ``training`` record (any of its forms)."""
    if "motif_init" not in training:
        return None
    if not training["motif_init"]:
        missing = training.get("motif_not_found")
        if isinstance(missing, Mapping):
            where = missing.get("jaspar_release") or "JASPAR"
            name = missing.get("name")
            return f"none, random kernels (no motif for {name!r} among the packaged motifs or in {where})"
        note = training.get("motif_init_note")  # the notice itself, in cards written before
        return "none, random kernels" + (f" ({note})" if note else "")
    src = training.get("motif_source")
    src = src if isinstance(src, Mapping) else {}
    kind = str(src.get("source", "")).lower()
    if kind == "jaspar":  # "JASPAR" before
        text = f"JASPAR {src.get('matrix_id')} {src.get('name')} ({src.get('release')})"
    elif kind == "packaged":
        text = f"{src.get('name')} (shipped with factornet {version})"
    elif kind == "file":
        text = f"{src.get('name')} in {src.get('file')} (matrix sha256 {str(src.get('sha256'))[:12]})"
    else:  # "MEME" before: the file as its path was given
        text = f"{src.get('name')} in {src.get('file')}"
    columns = src.get("columns_used")
    if isinstance(columns, Sequence) and len(columns) == 2:
        text += (
            f"; its central columns {columns[0]}–{columns[1]} (1-based) of {src.get('width')} (wider than "
            "the kernels)"
        )
    return f"kernels 0/1 from {text}"


# ------------------------------------------------------------------------------------- validation
def _version(values: dict, where: str) -> int:
    """Pop the version key(s); version 1 cards carry ``"format": 1`` and no ``card_version``."""
    legacy = values.pop("format", None)
    version = values.pop("card_version", None)
    if version is None:
        version = 1 if legacy is not None else CARD_VERSION
        if legacy not in (None, 1):
            raise FactorNetError(f"{where}: unknown card format {legacy!r}")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise FactorNetError(f"{where}: card_version must be a positive integer, got {version!r}")
    if version > CARD_VERSION:
        raise FactorNetError(
            f"{where}: card version {version} was written by a newer factornet (this one reads up to "
            f"{CARD_VERSION}): upgrade factornet"
        )
    return version


def _names(value, name: str) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise FactorNetError(f"model card: {name} must be a list of names, got {value!r}")
    if not all(isinstance(v, str) and v for v in value):
        raise FactorNetError(f"model card: {name} must hold non-empty strings, got {list(value)!r}")
    if len(set(value)) != len(value):
        raise FactorNetError(f"model card: {name} has duplicates: {list(value)!r}")
    return tuple(value)


def _track_norms(values: Mapping, track_names: tuple[str, ...]) -> dict[str, str]:
    """Every track's canonical rule, in track order (``none`` where the card names none)."""
    from factornet_core.normalize import canonical_rule

    unknown = [k for k in values if k not in track_names]
    if unknown:
        raise FactorNetError(
            f"model card: track_norms names track {unknown[0]!r}, not one of {', '.join(track_names)}"
        )
    out = {}
    for name in track_names:
        try:
            out[name] = canonical_rule(values.get(name, "none"))
        except FactorNetError as exc:
            raise FactorNetError(f"model card: track_norms.{name}: {exc}") from None
    return out


def _features(values: Mapping) -> Features:
    unknown = sorted(set(values) - {"expression", "gencode"})
    if unknown:
        raise FactorNetError(f"model card: unknown {noun(unknown, 'feature')} {', '.join(unknown)}")
    for k, v in values.items():
        if not isinstance(v, bool):
            raise FactorNetError(f"model card: features.{k} must be true or false, got {v!r}")
    return Features(**values)


def _positive_int(card: ModelCard, name: str) -> None:
    value = getattr(card, name)
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise FactorNetError(f"model card: {name} must be a positive integer, got {value!r}")


def _validate(card: ModelCard) -> None:
    """Types and cross-field consistency (raises one-line :class:`FactorNetError`)."""
    for name in ("seq_len", "bin_size", "bin_stride"):
        _positive_int(card, name)
    if card.bin_stride > card.bin_size:
        raise FactorNetError(
            f"model card: bin_stride {card.bin_stride} exceeds bin_size {card.bin_size} (bins would leave gaps)"
        )
    if not card.tfs:
        raise FactorNetError("model card: tfs is empty (a model predicts at least one TF)")
    if card.mode not in MODES:
        raise FactorNetError(f"model card: mode must be one of {', '.join(MODES)}, got {card.mode!r}")
    if card.mode == "single-task" and len(card.tfs) != 1:
        raise FactorNetError(
            f"model card: a single-task model predicts one TF, the card lists {len(card.tfs)}"
        )
    if card.chrom_naming not in (None, *CHROM_NAMINGS):
        raise FactorNetError(f"model card: chrom_naming must be 'ucsc' or 'plain', got {card.chrom_naming!r}")
    if card.kind != "factornet":
        raise FactorNetError(f"model card: kind must be 'factornet', got {card.kind!r}")
    _validate_metadata(card)
    _validate_config(card)


def _validate_metadata(card: ModelCard) -> None:
    f = card.features
    if f.expression:
        if card.expression_source not in EXPRESSION_SOURCES:
            raise FactorNetError(
                f"model card: expression_source must be 'pca' or 'meta_values', got {card.expression_source!r}"
            )
        if card.n_expression_pcs < 1:
            raise FactorNetError("model card: the model uses expression PCs but metadata_names lists none")
    elif card.expression_source is not None:
        raise FactorNetError("model card: expression_source is set but features.expression is false")
    if f.gencode and card.n_meta < N_ANNOTATION_FEATURES:
        raise FactorNetError(
            f"model card: the model uses the {N_ANNOTATION_FEATURES} annotation features but metadata_names "
            f"has {plural(card.n_meta, 'name')}"
        )
    if not (f.expression or f.gencode) and card.n_meta:
        raise FactorNetError("model card: metadata_names given but the model uses no metadata features")


def _validate_config(card: ModelCard) -> None:
    """When the architecture is recorded, it must describe the same inputs and outputs as the card."""
    cfg = card.config
    if not cfg:
        return
    checks = [
        ("track_names", list(cfg.get("track_names", card.track_names)), list(card.track_names)),
        ("seq_len", cfg.get("seq_len", card.seq_len), card.seq_len),
        ("n_tasks", cfg.get("n_tasks", len(card.tfs)), len(card.tfs)),
        ("n_meta", cfg.get("n_meta", card.n_meta), card.n_meta),
    ]
    for name, in_config, in_card in checks:
        if in_config != in_card:
            raise FactorNetError(
                f"model card: config.{name} is {in_config!r} but the card implies {in_card!r} (track count, "
                "TFs and metadata must match the architecture)"
            )
