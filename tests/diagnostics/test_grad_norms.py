"""GradNormRecorder: per-parameter and global pre-clip norms per update, against a hand-run update."""

import copy

import torch

from rnnkit.diagnostics.grad_norms import GradNormRecorder, plot_grad_norms
from rnnkit.training import TrainConfig, Trainer
from tests.training.training_helpers import Regressor, SeqDataset, mse_step


def test_norms_are_the_pre_clip_gradients_of_each_update(tmp_path):
    torch.manual_seed(0)
    model = Regressor()
    start = copy.deepcopy(model)
    data = SeqDataset(n=8)
    recorder = GradNormRecorder(model)
    cfg = TrainConfig(max_steps=3, batch_size=8, shuffle=False, clip_norm=0.01, out_dir=str(tmp_path), progress=False)
    Trainer(model, cfg, step_fn=mse_step, callbacks=[recorder]).fit(data)
    assert recorder.steps == [1, 2, 3]
    # the first update by hand, from the same starting weights and the one batch
    mse_step(start, (data.x, data.y)).backward()
    for name, p in start.named_parameters():
        torch.testing.assert_close(recorder.per_parameter[name][0], float(p.grad.norm()), rtol=1e-5, atol=1e-7)
    for i in range(3):  # the global norm is the norm of the per-parameter norms, before clipping (0.01)
        total = sum(v[i] ** 2 for v in recorder.per_parameter.values()) ** 0.5
        assert abs(recorder.global_norms[i] - total) < 1e-4 * total and total > 0.01
    recorder.save(tmp_path / "norms.json")
    again = GradNormRecorder().load(tmp_path / "norms.json")
    assert again.steps == recorder.steps and again.global_norms == recorder.global_norms
    fig = plot_grad_norms(recorder, tmp_path / "norms.png", clip_norm=0.01)
    assert (tmp_path / "norms.png").stat().st_size > 1000 and fig is not None
    plot_grad_norms(tmp_path / "train_log.csv", tmp_path / "from_log.png")  # the Trainer's log as source
    assert (tmp_path / "from_log.png").is_file()
