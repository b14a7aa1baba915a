"""Train a cross-encoder reranker for your domain from BEIR-style relevance judgements.

Hard negatives come from the project's own retrievers: for each training query, chunks
that rank high but are not judged relevant. The model reads each query with one relevant
passage and its negatives, and is trained to put the relevant one first (a softmax over
the group, "localized contrastive estimation", Gao et al. 2021). Everything runs from a
fixed seed; the result is saved as safetensors plus JSON config, never pickled.
"""

from __future__ import annotations

import json
import math
import random
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from rag_plugins._validation import check_count, check_number
from rag_plugins._deps import require
from rag_plugins._device import pick_device
from rag_plugins._progress import progress_bar
from rag_plugins.errors import DocumentNotFoundError, InvalidInputError, ModelLoadError, UnsafeFileError
from rag_plugins.protocols import Retriever
from rag_plugins.types import Chunk

TRAINING_RECORD = "rag_plugins_training.json"


@dataclass(frozen=True)
class TrainingGroup:
    """One query, one relevant passage and the hard negatives it must outrank."""

    query: str
    positive: str
    negatives: tuple[str, ...]


@dataclass(frozen=True)
class RerankerTrainingConfig:
    """Hyper-parameters of :func:`train_reranker` (defaults suit a few thousand groups on CPU)."""

    epochs: int = 2
    groups_per_step: int = 4
    negatives: int = 7
    mining_depth: int = 30
    learning_rate: float = 3e-5
    head_learning_rate: float = 5e-4
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    max_grad_norm: float = 1.0
    max_length: int = 256
    seed: int = 13

    def __post_init__(self) -> None:
        for name in ("epochs", "groups_per_step", "negatives", "mining_depth", "max_length"):
            check_count(getattr(self, name), name)
        check_number(self.learning_rate, "learning_rate", 0, low_open=True)
        check_number(self.head_learning_rate, "head_learning_rate", 0, low_open=True)
        check_number(self.warmup_ratio, "warmup_ratio", 0, 1, high_open=True)


@dataclass
class TrainingReport:
    """What a training run did; saved next to the weights as ``rag_plugins_training.json``."""

    base_model: str
    output_dir: str
    groups: int
    steps: int
    epochs: int
    seconds: float
    pairs_per_second: float
    epoch_losses: list[float] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)


def mine_training_groups(
    knowledge_base: Any,
    retriever: Retriever,
    queries: Mapping[str, str],
    qrels: Mapping[str, Mapping[str, int]],
    *,
    negatives: int = 7,
    depth: int = 30,
    seed: int = 13,
    batch_size: int = 64,
    show_progress: bool | None = None,
) -> list[TrainingGroup]:
    """Build training groups: every (query, relevant document) pair with ``negatives`` hard
    negatives sampled from the ``depth`` best hits of ``retriever`` that are not judged
    relevant. A relevant document is represented by its best-ranked chunk, or its first
    chunk when the retriever missed it. Queries with no relevant document in the knowledge
    base, or no negatives, are skipped."""
    rng = random.Random(seed)
    qids = [q for q in sorted(qrels) if q in queries and any(s > 0 for s in qrels[q].values())]
    if not qids:
        raise InvalidInputError("no query has a relevance judgement > 0; check the qrels and queries")
    groups: list[TrainingGroup] = []
    without_negatives = missing = 0
    with progress_bar(len(qids), "Mining hard negatives", show=show_progress, unit="query") as bar:
        for start in range(0, len(qids), batch_size):
            part = qids[start : start + batch_size]
            results = retriever.batch_retrieve([queries[q] for q in part], k=depth)
            for qid, hits in zip(part, results):
                judged = qrels[qid]
                best: dict[str, Chunk] = {}
                pool: list[str] = []
                for hit in hits:
                    if hit.document_id in judged:
                        best.setdefault(hit.document_id, hit.chunk)
                    else:
                        pool.append(hit.chunk.contextual_text)
                if not pool:
                    without_negatives += 1
                    continue
                for doc_id in sorted(d for d, s in judged.items() if s > 0):
                    chunk = best.get(doc_id) or _first_chunk(knowledge_base, doc_id)
                    if chunk is None:
                        missing += 1
                        continue
                    picked = rng.sample(pool, min(negatives, len(pool)))
                    groups.append(TrainingGroup(queries[qid], chunk.contextual_text, tuple(picked)))
            bar.update(len(part))
    if not groups:
        reasons = []
        if without_negatives:
            reasons.append(f"{without_negatives} of {len(qids)} queries had no unjudged hit to use as a negative "
                           f"(the retriever found nothing but the relevant documents in its top {depth}: add "
                           "documents, raise the mining depth, or mine with a dense or hybrid retriever)")
        if missing:
            reasons.append(f"{missing} relevant documents are not in the knowledge base (index the corpus the qrels "
                           "refer to)")
        raise InvalidInputError("no training group could be built: " + "; ".join(reasons))
    return groups


def _first_chunk(knowledge_base: Any, doc_id: str) -> Chunk | None:
    try:
        chunks = knowledge_base.chunks(doc_id)
    except DocumentNotFoundError:
        return None
    return chunks[0] if chunks else None


def load_trainable_cross_encoder(base: str, max_length: int, device: str) -> Any:
    """A ``CrossEncoder`` with one output, initialised from ``base``.

    ``base`` may be a cross-encoder or any transformer encoder, including a
    sentence-transformers bi-encoder folder (its transformer weights are used; the
    classification head starts fresh)."""
    st = require("sentence_transformers", "Training a reranker")
    torch = require("torch", "Training a reranker")
    try:
        model = st.CrossEncoder(base, num_labels=1, max_length=max_length, device=device,
                                activation_fn=torch.nn.Identity())
    except (OSError, ValueError) as exc:
        raise ModelLoadError(
            f"could not load {base!r} as the base of a cross-encoder: {exc}. Pass a local model folder "
            "or an id available offline."
        ) from exc
    return model


def train_reranker(
    groups: Sequence[TrainingGroup],
    base: str,
    output_dir: str | Path,
    config: RerankerTrainingConfig = RerankerTrainingConfig(),
    *,
    device: str | None = None,
    data: Mapping[str, Any] | None = None,
    show_progress: bool | None = None,
) -> TrainingReport:
    """Fine-tune a cross-encoder on ``groups`` and save it to ``output_dir``.

    The folder then loads with ``CrossEncoderReranker(str(output_dir))``. Nothing is
    written until training has finished, so a failed run leaves no half-written model.
    """
    torch = require("torch", "Training a reranker")
    if not groups:
        raise InvalidInputError("train_reranker needs at least one TrainingGroup")
    output = Path(output_dir)
    if output.exists() and any(output.iterdir()):
        raise InvalidInputError(f"{output} exists and is not empty; pass a new folder for the trained model")
    torch.manual_seed(config.seed)
    device = device or pick_device()
    model = load_trainable_cross_encoder(base, config.max_length, device)
    model.train()

    order = list(range(len(groups)))
    steps_per_epoch = math.ceil(len(groups) / config.groups_per_step)
    total_steps = steps_per_epoch * config.epochs
    warmup = int(total_steps * config.warmup_ratio)
    optimizer = torch.optim.AdamW(_parameter_groups(model, config))
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min((step + 1) / max(warmup, 1), max(0.0, (total_steps - step) / max(total_steps - warmup, 1)))
    )
    shuffler = random.Random(config.seed)
    epoch_losses: list[float] = []
    recent = None  # moving average shown on the progress bar
    pairs = 0
    started = time.perf_counter()
    with progress_bar(total_steps, "Training reranker", show=show_progress, unit="step") as bar:
        for _ in range(config.epochs):
            shuffler.shuffle(order)
            running, count = 0.0, 0
            for start in range(0, len(order), config.groups_per_step):
                batch = [groups[i] for i in order[start : start + config.groups_per_step]]
                loss = _group_loss(model, batch, torch)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), config.max_grad_norm)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                value = float(loss.detach())
                running += value
                count += 1
                recent = value if recent is None else 0.9 * recent + 0.1 * value
                pairs += sum(1 + len(g.negatives) for g in batch)
                bar.update(1)
                bar.set_postfix(loss=f"{recent:.4f}")
            epoch_losses.append(running / max(count, 1))
    seconds = time.perf_counter() - started
    model.eval()
    report = TrainingReport(
        base_model=base, output_dir=str(output), groups=len(groups), steps=total_steps, epochs=config.epochs,
        seconds=seconds, pairs_per_second=pairs / seconds if seconds else 0.0, epoch_losses=epoch_losses,
        config=asdict(config), data=dict(data or {}),
    )
    _save(model, output, report)
    return report


def _parameter_groups(model: Any, config: RerankerTrainingConfig) -> list[dict[str, Any]]:
    """The freshly initialised head (pooler + classifier) learns at ``head_learning_rate``,
    the pretrained encoder at ``learning_rate``; biases and norms get no weight decay."""
    groups: dict[tuple[bool, bool], list[Any]] = {}
    for name, param in model.named_parameters():
        head = "classifier" in name or "pooler" in name
        decay = not any(t in name for t in ("bias", "LayerNorm.weight", "layer_norm", "norm.weight"))
        groups.setdefault((head, decay), []).append(param)
    return [{"params": params, "lr": config.head_learning_rate if head else config.learning_rate,
             "weight_decay": config.weight_decay if decay else 0.0}
            for (head, decay), params in groups.items()]


def _group_loss(model: Any, batch: Sequence[TrainingGroup], torch: Any) -> Any:
    """Mean over groups of -log softmax(score of the positive) among its group."""
    pairs = [(g.query, text) for g in batch for text in (g.positive, *g.negatives)]
    features = model.preprocess(pairs)
    features = {k: v.to(model.device) if hasattr(v, "to") else v for k, v in features.items()}
    scores = model(features)["scores"].reshape(-1).float()
    losses, start = [], 0
    for g in batch:
        size = 1 + len(g.negatives)
        group = scores[start : start + size]
        losses.append(torch.logsumexp(group, dim=0) - group[0])
        start += size
    return torch.stack(losses).mean()


def _save(model: Any, output: Path, report: TrainingReport) -> None:
    """Write into a sibling temp folder, then rename: a crash leaves no half-written model."""
    output.parent.mkdir(parents=True, exist_ok=True)
    staging = output.with_name(output.name + ".partial")
    if staging.exists():
        shutil.rmtree(staging)
    model.save_pretrained(str(staging), safe_serialization=True)
    pickled = [p.name for p in staging.rglob("*") if p.suffix in (".bin", ".pt", ".pth", ".pkl", ".pickle")]
    if pickled:
        raise UnsafeFileError(f"refusing to keep pickled files {pickled}; expected safetensors only. Upgrade "
                              "transformers, or save the model with safe_serialization=True")
    (staging / TRAINING_RECORD).write_text(json.dumps(asdict(report), indent=2) + "\n", encoding="utf-8")
    if output.exists():
        output.rmdir()  # checked empty above
    staging.rename(output)
