"""scripts/reader/train.py: a run the time budget cut short resumes on its fitted schedule."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

pytestmark = pytest.mark.unit

PLANNED, FITTED, WARMUP, LR = 100, 40, 0.1, 1e-3


@pytest.fixture(scope="module")
def train(reader_script):
    return reader_script("train")


def fresh(train, torch):
    """A tiny model with the optimiser and planned schedule that train.py makes."""
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    args = SimpleNamespace(weight_decay=0.01, lr=LR, warmup=WARMUP)
    optimizer, schedule = train.optimiser(model, args, PLANNED, torch)
    return model, optimizer, schedule


def run_to(step_to, step, total, model, optimizer, schedule, budget, torch, refit_at=None):
    while step < step_to:
        model(torch.ones(1, 3)).sum().backward()
        optimizer.step()
        schedule.step()
        optimizer.zero_grad()
        step += 1
        if step == refit_at:  # what Budget.fit does when the budget moves the end
            total, schedule = FITTED, budget.schedule(FITTED, step, optimizer, torch)
    return step, total, schedule


def test_a_resumed_run_keeps_the_fitted_end_and_learning_rate(train, tmp_path):
    torch = pytest.importorskip("torch")
    checkpoint = tmp_path / "checkpoint.pt"
    model, optimizer, schedule = fresh(train, torch)
    budget = train.Budget(60, PLANNED, WARMUP)
    step, total, schedule = run_to(
        30, 0, PLANNED, model, optimizer, schedule, budget, torch, refit_at=20
    )
    assert total == FITTED
    expected_lr = schedule.get_last_lr()[0]
    train.save_checkpoint(
        checkpoint, step, budget.planned, [], model, optimizer, schedule, torch, total
    )

    model, optimizer, schedule = fresh(train, torch)
    step, log, fitted = train.resume(checkpoint, PLANNED, model, optimizer, schedule, torch)
    budget = train.Budget(60, PLANNED, WARMUP)
    total, schedule = budget.resumed(step, fitted, PLANNED, optimizer, schedule, torch)
    assert (step, total) == (30, FITTED)
    assert optimizer.param_groups[0]["lr"] == pytest.approx(expected_lr)
    # The planned schedule would still be at LR * (100 - 30) / 90 here, not decaying to 0 at 40.
    assert expected_lr == pytest.approx(LR * (FITTED - 30) / (FITTED - 10))
    step, total, schedule = run_to(total, step, total, model, optimizer, schedule, budget, torch)
    assert step == FITTED and schedule.get_last_lr()[0] == pytest.approx(0.0)


def test_a_checkpoint_without_a_fitted_end_resumes_as_planned(train, tmp_path):
    torch = pytest.importorskip("torch")
    checkpoint = tmp_path / "checkpoint.pt"
    model, optimizer, schedule = fresh(train, torch)
    train.save_checkpoint(checkpoint, 0, PLANNED, [], model, optimizer, schedule, torch)
    step, _, fitted = train.resume(checkpoint, PLANNED, model, optimizer, schedule, torch)
    budget = train.Budget(0, PLANNED, WARMUP)
    assert budget.resumed(step, fitted, PLANNED, optimizer, schedule, torch) == (
        PLANNED,
        schedule,
    )


def test_a_run_from_a_later_batch_warms_up_and_decays_over_the_batches_left(train):
    torch = pytest.importorskip("torch")
    first = 60  # 40 batches left: 4 of warm-up (WARMUP of them), then decay to 0 at PLANNED
    model = torch.nn.Linear(3, 2)
    args = SimpleNamespace(weight_decay=0.01, lr=LR, warmup=WARMUP)
    optimizer, schedule = train.optimiser(model, args, PLANNED, torch, first)
    budget = train.Budget(0, PLANNED, WARMUP, first=first)
    rates = [schedule.get_last_lr()[0]]
    for _ in range(PLANNED - first):
        optimizer.step()
        schedule.step()
        rates.append(schedule.get_last_lr()[0])
    assert rates[:4] == pytest.approx([LR / 4, LR / 2, 3 * LR / 4, LR])
    assert rates[-1] == pytest.approx(0.0) and max(rates) == pytest.approx(LR)
    # The budget's refit keeps the same warm-up from the same batch.
    refit = budget.schedule(80, 62, optimizer, torch)
    assert refit.get_last_lr()[0] == pytest.approx(3 * LR / 4)
    assert budget.probe == first + 200


@pytest.mark.parametrize(
    ("step", "fitted", "last_batch", "end"),
    [
        (0, PLANNED, 0, PLANNED),
        (30, PLANNED, 59, 60),
        (30, FITTED, 59, FITTED),
        (30, PLANNED, 30, 31),
    ],
)
def test_the_last_batch_moves_the_end_earlier_only(train, step, fitted, last_batch, end):
    assert train.run_end(step, fitted, PLANNED, last_batch) == end


@pytest.mark.parametrize("last_batch", [29, PLANNED, PLANNED + 5])
def test_a_last_batch_already_read_or_past_the_epoch_is_an_error(train, last_batch):
    with pytest.raises(SystemExit, match="not a batch still to read"):
        train.run_end(30, PLANNED, PLANNED, last_batch)


def test_a_run_resumed_with_a_last_batch_decays_to_0_after_it(train, tmp_path):
    torch = pytest.importorskip("torch")
    checkpoint = tmp_path / "checkpoint.pt"
    model, optimizer, schedule = fresh(train, torch)
    budget = train.Budget(0, PLANNED, WARMUP)
    step, total, schedule = run_to(30, 0, PLANNED, model, optimizer, schedule, budget, torch)
    planned_lr = schedule.get_last_lr()[0]
    train.save_checkpoint(checkpoint, step, PLANNED, [], model, optimizer, schedule, torch)

    model, optimizer, schedule = fresh(train, torch)
    step, _, fitted = train.resume(checkpoint, PLANNED, model, optimizer, schedule, torch)
    fitted = train.run_end(step, fitted, PLANNED, last_batch=49)
    total, schedule = budget.resumed(step, fitted, PLANNED, optimizer, schedule, torch)
    assert total == 50
    # Resumed at the planned learning rate's step, it now reaches 0 after batch 49, not 99.
    assert schedule.get_last_lr()[0] == pytest.approx(LR * (50 - 30) / (50 - 10))
    assert schedule.get_last_lr()[0] < planned_lr
    step, total, schedule = run_to(total, step, total, model, optimizer, schedule, budget, torch)
    assert step == 50 and schedule.get_last_lr()[0] == pytest.approx(0.0)


def test_the_time_budget_never_moves_the_end_past_the_last_batch(train, monkeypatch):
    torch = pytest.importorskip("torch")
    model, optimizer, schedule = fresh(train, torch)
    budget = train.Budget(1e9, PLANNED, WARMUP, probe=0)  # time enough for every batch
    budget.end_cap = 50
    clock = iter([0.0, 1.0])
    monkeypatch.setattr(train.time, "time", lambda: next(clock))
    budget.fit(0, 50, optimizer, schedule, torch)  # the first look only marks the time
    total, _ = budget.fit(100, 50, optimizer, schedule, torch)
    assert total == 50
