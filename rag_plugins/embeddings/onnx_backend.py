"""Run a sentence-transformers model's transformer through ONNX Runtime, exported offline.

sentence-transformers' own ONNX backend needs ``optimum-onnx``, which pins transformers
below the version this project runs on, so the export is done here with the tools that
are installed anyway: ``torch.onnx`` traces the model's Hugging Face transformer (its first
module) from the local weights, ONNX Runtime runs it, and ``onnxruntime.quantization``
makes the int8 variant (dynamic quantisation of the matrix products, one scale per
output channel: per-tensor scales moved MiniLM's document vectors to a cosine of 0.90
with torch's, per-channel ones keep it above 0.99). Tokenising, pooling, normalising and
the batching and length-sorting of ``encode`` / ``predict`` stay sentence-transformers'
own: only the first module's ``forward`` is replaced.

Exports are cached under ``$XDG_CACHE_HOME/rag-plugins/onnx``, keyed by the weights'
fingerprint, the backend, the recipe and the library versions, and written atomically
(two processes exporting at once both end with a whole file). Nothing is downloaded.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator

from rag_plugins._deps import require
from rag_plugins.embeddings.fingerprint import PREFIX, cache_root
from rag_plugins.errors import InvalidInputError, ModelLoadError

BACKENDS = ("torch", "onnx", "onnx-int8")
# What the exported graph and its fingerprint depend on beyond the weights; bump on any change.
RECIPE = "rag-plugins/onnx-export/v1:torchscript-opset17;int8=dynamic-qint8-per-channel-matmul"
_OPSET = 17
# Texts per batch when none is given. ONNX Runtime on 2 CPU cores ran MiniLM fastest in small
# length-sorted batches (int8 documents: 39 texts/s at 16, 31 at 64; 50 reranked pairs: 2.5 s
# at 8, 3.1 s at 32); torch keeps the sizes its published figures were measured with.
DEFAULT_BATCH = {"embedder": {"torch": 64, "onnx": 16, "onnx-int8": 16},
                 "cross-encoder": {"torch": 32, "onnx": 8, "onnx-int8": 8}}
_log = logging.getLogger(__name__)


def check_backend(backend: Any, device: str | None) -> str:
    """``backend`` when it is one of :data:`BACKENDS` and can run on ``device``.

    >>> check_backend("onnx-int8", None)
    'onnx-int8'
    """
    if backend not in BACKENDS:
        raise InvalidInputError(f"backend must be one of {', '.join(BACKENDS)}; got {backend!r}")
    if backend != "torch" and device not in (None, "cpu"):
        raise InvalidInputError(
            f"the {backend} backend runs on the CPU (ONNX Runtime's CPU provider), not on {device!r}; "
            "on a GPU use backend='torch', which runs in fp16 there"
        )
    return backend


def backend_fingerprint(weights_fingerprint: str, backend: str) -> str:
    """The fingerprint of vectors made by ``backend`` from these weights: the weights' own
    for torch, a different one for each ONNX variant, so their vectors are never mixed.

    >>> fp = "sha256:" + "0" * 64
    >>> backend_fingerprint(fp, "torch") == fp, backend_fingerprint(fp, "onnx") == fp
    (True, False)
    """
    if backend == "torch":
        return weights_fingerprint
    return PREFIX + hashlib.sha256(f"{RECIPE}\n{backend}\n{weights_fingerprint}".encode()).hexdigest()


def run_with_onnx(model: Any, backend: str, weights_fingerprint: str, what: str) -> None:
    """Replace ``model``'s first module's forward pass with an ONNX Runtime session of its
    exported transformer (``backend`` ``onnx`` or ``onnx-int8``). ``what`` names the model's
    role in errors."""
    module = model[0]
    output_key = _output_key(module, what)
    ort = require("onnxruntime", f"The {backend} backend")
    path, scratch = _exported(model, module, output_key, backend, weights_fingerprint, what)
    try:
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # as many threads as torch would use, so OMP_NUM_THREADS / torch.set_num_threads govern both
        options.intra_op_num_threads = require("torch", "The ONNX backend").get_num_threads()
        # idle threads sleep instead of spinning: spinning ones took the cores from torch models
        # in the same process (a torch query embedding took 76 ms beside ONNX sessions, 12 ms alone)
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # a damaged cached export: say where it is so it can be removed
        raise ModelLoadError(f"ONNX Runtime could not load {path} ({str(exc).splitlines()[0][:200]}); "
                             "delete the file and it is exported again") from exc
    finally:
        if scratch is not None:
            _remove(scratch)
    inputs = [i.name for i in session.get_inputs()]
    module.forward = _forward(session, inputs, module.module_output_name)


def _output_key(module: Any, what: str) -> str:
    config = getattr(module, "modality_config", None) or {}
    text = config.get("text") or {}
    output = text.get("method_output_name")
    if isinstance(output, (list, tuple)) and len(output) == 1:
        output = output[0]
    if (getattr(module, "auto_model", None) is None or set(config) != {"text"}
            or text.get("method") != "forward" or not isinstance(output, str)
            or getattr(module.auto_model.config, "output_hidden_states", False)):
        raise ModelLoadError(
            f"the {what}'s first module is not a plain text transformer (one forward pass, one output), "
            "so it cannot be exported to ONNX here; use backend='torch'"
        )
    return output


def _forward(session: Any, inputs: list[str], output_name: str) -> Any:
    torch = require("torch", "The ONNX backend")

    def forward(features: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        feed = {name: features[name].detach().cpu().numpy() for name in inputs}
        features[output_name] = torch.from_numpy(session.run(None, feed)[0])
        return features

    return forward


def _cached_path(backend: str, weights_fingerprint: str) -> Path:
    key = hashlib.sha256(f"{RECIPE}\n{backend}\n{weights_fingerprint}\n{_versions()}".encode()).hexdigest()
    return cache_root() / "onnx" / key / "model.onnx"


def _exported(model: Any, module: Any, output_key: str, backend: str, weights_fingerprint: str,
              what: str) -> tuple[Path, Path | None]:
    """The ONNX file for ``backend`` (cached), and the scratch folder to remove once it is
    loaded when the cache cannot be written (``None`` otherwise). The int8 variant is
    quantised from the fp32 export when that is cached already."""
    target = _cached_path(backend, weights_fingerprint)
    if target.is_file():
        return target, None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(dir=target.parent, prefix=".export-"))
        cached = True
    except OSError:  # a read-only cache: export for this process only
        scratch = Path(tempfile.mkdtemp(prefix="rag-plugins-onnx-"))
        cached = False
    try:
        _log.info("exporting the %s to ONNX (%s) once; cached in %s", what, backend, target.parent)
        fp32 = _cached_path("onnx", weights_fingerprint)
        if backend == "onnx" or not fp32.is_file():
            fp32 = scratch / "fp32.onnx"
            _export(model, module, output_key, fp32, what)
        made = fp32
        if backend == "onnx-int8":
            quantization = require("onnxruntime.quantization", "The onnx-int8 backend")
            made = scratch / "int8.onnx"
            with _without_preprocessing_advice():
                quantization.quantize_dynamic(str(fp32), str(made), weight_type=quantization.QuantType.QInt8,
                                              per_channel=True, op_types_to_quantize=["MatMul"])
        if not cached:
            return made, scratch
        os.replace(made, target)
        _remove(scratch)
        return target, None
    except BaseException:
        _remove(scratch)
        raise


def _remove(folder: Path) -> None:
    for leftover in folder.glob("*"):
        leftover.unlink(missing_ok=True)
    folder.rmdir()


@contextlib.contextmanager
def _without_preprocessing_advice() -> Iterator[None]:
    """Drop onnxruntime's root-logger advice to run its shape pre-processing first: the
    graph comes straight from the exporter, with shapes inferred already."""
    def keep(record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Please consider to run pre-processing")

    root = logging.getLogger()
    root.addFilter(keep)
    try:
        yield
    finally:
        root.removeFilter(keep)


def _export(model: Any, module: Any, output_key: str, path: Path, what: str) -> None:
    torch = require("torch", "The ONNX backend")
    import warnings

    sample = model.preprocess(["a short text", "a somewhat longer text to pad the first one against"])
    names = [name for name in ("input_ids", "attention_mask", "token_type_ids") if name in sample]
    transformer = module.auto_model

    class Traced(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, *tensors: Any) -> Any:
            return self.transformer(**dict(zip(names, tensors)), return_dict=True)[output_key]

    device = next(transformer.parameters()).device
    args = tuple(sample[name].to(device) for name in names)
    axes = {name: {0: "batch", 1: "sequence"} for name in names}
    axes["output"] = {0: "batch", 1: "sequence"} if output_key != "logits" else {0: "batch"}
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # the tracer's notes on shape-dependent Python branches
            torch.onnx.export(Traced().eval(), args, str(path), input_names=names, output_names=["output"],
                              dynamic_axes=axes, opset_version=_OPSET, dynamo=False)
    except Exception as exc:
        raise ModelLoadError(f"could not export the {what} to ONNX ({type(exc).__name__}: "
                             f"{str(exc).splitlines()[0][:200] if str(exc) else ''}); use backend='torch'") from exc


def _versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    out = []
    for name in ("torch", "transformers", "onnxruntime", "onnx"):
        try:
            out.append(f"{name}={version(name)}")
        except PackageNotFoundError:
            out.append(f"{name}=")
    return ",".join(out)
