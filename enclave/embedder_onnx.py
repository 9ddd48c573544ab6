"""Run the embedder's transformer with ONNX Runtime instead of torch (optionally int8).

sentence-transformers' own `backend="onnx"` needs optimum-onnx, whose releases pin
transformers < 4.58 while sentence-transformers 6 needs transformers 5: the two cannot be
installed together. So the model is exported here with `torch.onnx.export` from the local
model folder, quantized with onnxruntime's own `quantize_dynamic`, cached (never
downloaded: see `cache_dir`), and put in place of the SentenceTransformer's transformer. Its
tokenizer, pooling and normalisation stay sentence-transformers' own, so `model.encode`
works unchanged and gives the same vectors up to float rounding (int8: up to quantization).
"""

import hashlib
import inspect
import logging
import os
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import onnxruntime
import torch

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

# Bump when the export or quantization recipe changes: older cached files are not reused.
RECIPE = "1"
OPSET = 17
INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def cache_dir(data_dir: Path) -> Path:
    """Where exports are kept: the user's cache (~/.cache/enclave/onnx), shared by every data
    dir (an export takes seconds, tens on a busy machine: once per model and library
    versions); the data dir when the home folder is not writable (a service account)."""
    try:
        shared = Path.home() / ".cache" / "enclave" / "onnx"
        shared.mkdir(parents=True, exist_ok=True)
        if os.access(shared, os.W_OK):
            return shared
    except (OSError, RuntimeError):  # RuntimeError: no home directory can be determined
        pass
    return data_dir / "onnx"


def onnx_file(
    model: "SentenceTransformer", model_path: Path, cache_dir: Path, *, quantized: bool
) -> Path:
    """The model's ONNX file (int8 if `quantized`), exported from the loaded torch model (and
    quantized) into `cache_dir` on first use."""
    folder = cache_dir / f"{model_path.name}-{_fingerprint(model_path)}"
    fp32 = folder / "model.onnx"
    if not fp32.is_file():
        _atomic(fp32, lambda target: _export(model, target))
    if not quantized:
        return fp32
    int8 = folder / "model_qint8.onnx"
    if not int8.is_file():
        _atomic(int8, lambda target: _quantize(fp32, target))
    return int8


def use_onnx(model: "SentenceTransformer", onnx_path: Path, threads: int | None = None) -> None:
    """Put an ONNX Runtime session of `onnx_path` in place of the model's transformer."""
    module: Any = model[0]
    if not isinstance(getattr(module, "model", None), torch.nn.Module) or not hasattr(
        module.model, "config"
    ):
        raise TypeError(f"cannot run {type(module).__name__} with ONNX Runtime")
    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    # As many threads as torch would use, so the backends are compared on equal terms.
    options.intra_op_num_threads = threads or torch.get_num_threads()
    options.inter_op_num_threads = 1
    # Idle threads sleep instead of spinning: the cores are shared with the parse workers.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = onnxruntime.InferenceSession(
        str(onnx_path), options, providers=["CPUExecutionProvider"]
    )
    module.model = OnnxTransformer(session, module.model.config)


class OnnxTransformer(torch.nn.Module):
    """Stands in for the Hugging Face model inside sentence-transformers' Transformer module:
    same inputs, returns `last_hidden_state` as a CPU tensor."""

    def __init__(self, session: onnxruntime.InferenceSession, config: Any) -> None:
        super().__init__()
        self.session = session
        self.config = config
        self.input_names = {i.name for i in session.get_inputs()}

    @property
    def device(self) -> torch.device:
        return torch.device("cpu")

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        **_: Any,
    ) -> dict[str, torch.Tensor]:
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        given = {
            "input_ids": input_ids,
            "attention_mask": attention_mask,
            "token_type_ids": token_type_ids,
        }
        feeds = {
            name: tensor.cpu().numpy().astype(np.int64, copy=False)
            for name, tensor in given.items()
            if name in self.input_names
        }
        (hidden,) = self.session.run(["last_hidden_state"], feeds)
        return {"last_hidden_state": torch.from_numpy(hidden)}


class _LastHiddenState(torch.nn.Module):
    """The Hugging Face model as a module of positional inputs returning one tensor (what
    the exporter traces)."""

    def __init__(self, hf_model: torch.nn.Module, names: list[str]) -> None:
        super().__init__()
        self.inner = hf_model
        self.names = names

    def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
        output = self.inner(**dict(zip(self.names, tensors, strict=True)), return_dict=True)
        hidden: torch.Tensor = output.last_hidden_state
        return hidden


def _export(model: "SentenceTransformer", target: Path) -> None:
    hf_model: Any = model[0].model
    sample = model.preprocess(["an example passage to trace the export with"])
    names = [n for n in INPUTS if n in sample and _accepts(hf_model, n)]
    args = tuple(sample[n].to(torch.int64) for n in names)
    dynamic = {n: {0: "batch", 1: "sequence"} for n in names}
    dynamic["last_hidden_state"] = {0: "batch", 1: "sequence"}
    previous = getattr(hf_model.config, "_attn_implementation", None)
    # The legacy exporter traces plain ops: eager attention exports everywhere (sdpa does
    # not always), and ORT fuses it again at load time.
    hf_model.config._attn_implementation = "eager"
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer notes on shape-dependent Python code
            torch.onnx.export(
                _LastHiddenState(hf_model, names).eval(),
                args,
                str(target),
                input_names=names,
                output_names=["last_hidden_state"],
                dynamic_axes=dynamic,
                opset_version=OPSET,
                do_constant_folding=True,
                dynamo=False,
            )
    finally:
        hf_model.config._attn_implementation = previous
    log.info("exported %s to %s", type(hf_model).__name__, target)


def _quantize(source: Path, target: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # Weights of the matrix products in int8, one scale per output channel (per tensor cost
    # ClapNQ passages up to 0.10 of cosine against torch; per channel at most 0.015), 7-bit
    # (reduce_range) so that CPUs without VNNI do not saturate; activations are quantized
    # on the fly. Embedding tables stay float: they are lookups, not products.
    root = logging.getLogger()
    advice = _DropPreprocessingAdvice()
    root.addFilter(advice)  # it logs "consider pre-processing" on the root logger, every time
    try:
        quantize_dynamic(
            str(source),
            str(target),
            weight_type=QuantType.QInt8,
            op_types_to_quantize=["MatMul"],
            per_channel=True,
            reduce_range=True,
        )
    finally:
        root.removeFilter(advice)
    log.info("quantized %s to %s", source, target)


class _DropPreprocessingAdvice(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "pre-processing before quantization" not in record.getMessage()


def _accepts(hf_model: Any, name: str) -> bool:
    return name in inspect.signature(hf_model.forward).parameters


def _fingerprint(model_path: Path) -> str:
    """Changes when the model's files (or the export recipe, or the libraries) change."""
    digest = hashlib.sha256(f"{RECIPE}:{torch.__version__}:{onnxruntime.__version__}".encode())
    for path in sorted(p for p in model_path.rglob("*") if p.is_file()):
        stat = path.stat()
        digest.update(f"{path.relative_to(model_path)}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


def _atomic(target: Path, write: Callable[[Path], None]) -> None:
    """Write via a temporary file in the same folder: a crash or a concurrent writer never
    leaves a half-written model where a reader looks."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(
        prefix=f".{target.stem}-", suffix=".onnx", dir=target.parent
    )
    os.close(handle)
    try:
        write(Path(temporary))
        os.replace(temporary, target)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
