"""The skorch training core: steps, losses, history, batching."""

import numpy as np
import pytest
import torch
from skorch.callbacks import Callback
from skorch.dataset import Dataset

from skganomaly._data import TensorBatches, TrainValid
from skganomaly.net import D_COLLAPSE, GANomalyNet
from skganomaly.networks import Discriminator, Generator


def make_net(shape=(6,), **kwargs):
    params = dict(
        module=Generator, module__sample_shape=shape, module__latent_dim=3,
        module__n_filters=4, discriminator=Discriminator,
        discriminator__sample_shape=shape, discriminator__n_filters=4,
        optimizer=torch.optim.Adam, lr=1e-3, max_epochs=2, batch_size=16,
        iterator_train=TensorBatches, iterator_train__shuffle=True,
        iterator_train__seed=0, iterator_valid=TensorBatches, train_split=None,
        verbose=0,
    )
    params.update(kwargs)
    return GANomalyNet(**params)


def params_of(module):
    return [p.detach().clone() for p in module.parameters()]


def test_one_epoch_updates_generator_and_discriminator_with_their_own_optimizers():
    torch.manual_seed(0)
    X = torch.randn(64, 6)
    net = make_net(max_epochs=1).initialize()
    assert set(net._modules) == {"module", "discriminator"}
    assert set(net._optimizers) == {"optimizer", "optimizer_discriminator"}
    gen_before, disc_before = params_of(net.module_), params_of(net.discriminator_)
    net.partial_fit(TrainValid(X))
    assert all(not torch.equal(a, b) for a, b in
               zip(gen_before, params_of(net.module_)))
    assert any(not torch.equal(a, b) for a, b in
               zip(disc_before, params_of(net.discriminator_)))
    # Generator optimizer holds only generator parameters.
    gen_ids = {id(p) for p in net.module_.parameters()}
    opt_ids = {id(p) for g in net.optimizer_.param_groups for p in g["params"]}
    assert opt_ids == gen_ids


def test_history_records_every_loss_and_the_weighted_sum():
    torch.manual_seed(0)
    X = torch.randn(48, 6)
    net = make_net(w_adv=2.0, w_con=3.0, w_enc=5.0).fit(TrainValid(X, X[:10]))
    last = net.history[-1]
    for key in ["train_loss", "train_loss_adv", "train_loss_con", "train_loss_enc",
                "train_loss_d", "valid_loss", "valid_score"]:
        assert np.isfinite(last[key]), key
    for batch in last["batches"]:
        if "train_loss" in batch:
            weighted = (2 * batch["train_loss_adv"] + 3 * batch["train_loss_con"]
                        + 5 * batch["train_loss_enc"])
            assert batch["train_loss"] == pytest.approx(weighted, rel=1e-5)


def test_discriminator_is_reinitialised_when_its_loss_collapses(monkeypatch):
    def collapsed(self, real_logits, fake_logits):
        # A constant below the threshold: no gradient, so only the
        # re-initialisation can change the discriminator's weights.
        return (real_logits.sum() + fake_logits.sum()) * 0 + D_COLLAPSE / 10

    monkeypatch.setattr(GANomalyNet, "discriminator_loss", collapsed)
    torch.manual_seed(0)
    net = make_net(max_epochs=1).initialize()
    before = params_of(net.discriminator_)
    net.partial_fit(TrainValid(torch.randn(32, 6)))
    reinits = [b.get("d_reinit", 0) for b in net.history[-1]["batches"]]
    assert sum(reinits) == 2  # once per batch of 16
    after = params_of(net.discriminator_)
    assert not torch.equal(before[0], after[0])


def test_non_finite_loss_raises_naming_the_epoch():
    net = make_net()
    X = torch.randn(32, 6)
    X[0, 0] = float("nan")
    with pytest.raises(FloatingPointError, match="epoch 1"):
        net.fit(TrainValid(X))


def test_tensor_batches_cover_each_row_once_in_a_seeded_order():
    X = torch.arange(10.0).reshape(10, 1)
    ds = Dataset(X, None)
    it = TensorBatches(ds, batch_size=3, shuffle=True, seed=1)
    first = torch.cat([b[0] for b in it]).flatten()
    second = torch.cat([b[0] for b in it]).flatten()
    assert sorted(first.tolist()) == list(range(10))
    assert not torch.equal(first, second)  # reshuffled every epoch
    again = torch.cat([b[0] for b in TensorBatches(ds, 3, True, seed=1)]).flatten()
    assert torch.equal(first, again)
    assert len(it) == 4


def test_tensor_batches_drop_a_trailing_single_sample():
    ds = Dataset(torch.zeros(9, 2), None)
    it = TensorBatches(ds, batch_size=4, drop_singleton=True)
    assert [len(b[0]) for b in it] == [4, 4] and len(it) == 2


def test_tensor_batches_fall_back_to_a_dataloader_for_other_datasets():
    ds = torch.utils.data.TensorDataset(torch.arange(5.0))
    batches = list(TensorBatches(ds, batch_size=2))
    assert [len(b[0]) for b in batches] == [2, 2, 1]


def test_latent_error_is_the_mean_squared_latent_distance():
    torch.manual_seed(0)
    X = torch.randn(20, 6)
    net = make_net().fit(TrainValid(X))
    scores = net.errors([X[:7], X[7:]])[:, 0]
    net.module_.eval()
    with torch.no_grad():
        _, z, z_hat = net.module_(X)
    expected = ((z - z_hat) ** 2).mean(dim=1).double().numpy()
    np.testing.assert_allclose(scores, expected, rtol=1e-5)
    assert scores.dtype == np.float64


# -- precision ---------------------------------------------------------------------

from skganomaly import _device  # noqa: E402


@pytest.mark.parametrize("supported", [True, False])
def test_auto_precision_uses_bf16_only_for_images_on_native_hardware(monkeypatch,
                                                                      supported):
    monkeypatch.setattr(_device, "bf16_supported", lambda device: supported)
    assert _device.resolve_precision("auto", "cpu", (1, 8, 8)) == (
        "bf16" if supported else "fp32")
    assert _device.resolve_precision("auto", "cpu", (12,)) == "fp32"
    assert _device.resolve_precision("fp32", "cpu", (1, 8, 8)) == "fp32"


def test_bf16_without_native_support_is_refused(monkeypatch):
    monkeypatch.setattr(_device, "bf16_supported", lambda device: False)
    with pytest.raises(ValueError, match="no native bfloat16 support.*'fp32'"):
        _device.resolve_precision("bf16", "cpu", (1, 8, 8))
    with pytest.raises(ValueError, match="precision='half' is not one of"):
        _device.resolve_precision("half", "cpu", (1, 8, 8))


@pytest.mark.parametrize("value, disabled", [("1", True), ("true", True), ("0", False),
                                              ("", False)])
def test_environment_variable_turns_native_bf16_off(monkeypatch, value, disabled):
    # A CPU that reports native bf16, whatever this machine's CPU is.
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: True,
                        raising=False)
    monkeypatch.setenv("SKGANOMALY_DISABLE_BF16", value)
    assert _device.bf16_supported("cpu") is not disabled
    assert _device.resolve_precision("auto", "cpu", (1, 8, 8)) == (
        "fp32" if disabled else "bf16")
    if disabled:
        with pytest.raises(ValueError, match="no native bfloat16 support"):
            _device.resolve_precision("bf16", "cpu", (1, 8, 8))


@pytest.mark.skipif(not _device.bf16_supported("cpu"), reason="no native bf16 here")
def test_bf16_trains_channels_last_with_float32_weights_and_close_scores():
    torch.manual_seed(0)
    X = torch.rand(64, 1, 12, 12) * 2 - 1
    nets = {}
    for precision in ["fp32", "bf16"]:
        torch.manual_seed(0)
        nets[precision] = make_net(shape=(1, 12, 12), precision=precision,
                                   max_epochs=3).fit(TrainValid(X))
    bf16 = nets["bf16"]
    conv = bf16.module_.encoder1.features[0].weight
    assert conv.dtype == torch.float32
    assert conv.is_contiguous(memory_format=torch.channels_last)
    s32 = nets["fp32"].errors([X])[:, 0]
    s16 = bf16.errors([X])[:, 0]
    assert s16.dtype == np.float64 and np.all(np.isfinite(s16))
    # Same seed, same data: the two trainings end close; ranks agree.
    assert np.corrcoef(np.argsort(np.argsort(s32)), np.argsort(np.argsort(s16)))[0, 1] > 0.8


# -- BatchNorm re-estimation after training ------------------------------------------


def test_refresh_batchnorm_averages_statistics_with_the_final_weights():
    torch.manual_seed(0)
    X = torch.randn(64, 6) * 3 + 1
    net = make_net(max_epochs=2).fit(TrainValid(X))
    encoder = net.module_.encoder1
    bn = encoder.features[3]
    assert isinstance(bn, torch.nn.BatchNorm1d)
    stale = bn.running_mean.clone()
    net.refresh_batchnorm([X[:16], X[16:32], X[32:48], X[48:], X[:1]])
    with torch.no_grad():
        expected = encoder.features[:3](X).mean(dim=0)
    # Equal batches: the average of batch means is the mean over all rows
    # (the trailing single-sample batch is skipped).
    torch.testing.assert_close(bn.running_mean, expected, rtol=1e-5, atol=1e-6)
    assert not torch.allclose(stale, expected)
    assert bn.momentum == 0.1 and not net.module_.training


def test_detector_refreshes_batchnorm_and_scores_stay_independent(tiny, blobs,
                                                                  monkeypatch):
    refreshed = tiny().fit(blobs)
    scores = refreshed.score_samples(blobs)
    monkeypatch.setattr(GANomalyNet, "refresh_batchnorm", lambda self, batches: None)
    stale = tiny().fit(blobs)
    assert not np.allclose(scores, stale.score_samples(blobs))
    single = np.array([refreshed.score_samples(blobs[i:i + 1])[0] for i in range(5)])
    np.testing.assert_allclose(single, scores[:5], rtol=1e-5)


def rows_of(batch):
    xb = batch[0] if isinstance(batch, (list, tuple)) else batch
    return xb[:, 0].long().tolist()


@pytest.mark.parametrize("sliceable", [True, False])
def test_shards_partition_every_epoch_into_equal_full_batches(sliceable):
    X = torch.arange(50.0).reshape(50, 1)
    dataset = Dataset(X) if sliceable else torch.utils.data.TensorDataset(X)
    shards = [TensorBatches(dataset, batch_size=4, shuffle=True, seed=3).shard(i, 3)
              for i in range(3)]
    reference = TensorBatches(Dataset(X), batch_size=4, shuffle=True, seed=3).shard(0, 3)
    epochs = []
    for _ in range(2):
        batches = [[rows_of(b) for b in shard] for shard in shards]
        # 50 rows, steps of 3 x 4: 5 full batches on every shard; the 10 rows
        # that complete the last step come round again from the epoch's start.
        assert [len(b) for b in batches] == [5, 5, 5] == [len(s) for s in shards]
        assert all(len(rows) == 4 for shard in batches for rows in shard)
        seen = [r for shard in batches for rows in shard for r in rows]
        assert sorted(set(seen)) == list(range(50)) and len(seen) == 60
        # Step k of the epoch is batch k of shard 0, then of shard 1, ...
        order = [r for k in range(5) for i in range(3) for r in batches[i][k]]
        assert order[50:] == order[:10]
        assert [rows_of(b) for b in reference] == batches[0]
        epochs.append(order)
    assert epochs[0] != epochs[1]  # a new order every epoch


def test_one_shard_is_the_plain_iterator_and_unseeded_sharding_is_refused():
    X = torch.randn(37, 2)
    plain = [b[0] for b in TensorBatches(Dataset(X), batch_size=8, shuffle=True, seed=1)]
    one = [b[0] for b in TensorBatches(Dataset(X), batch_size=8, shuffle=True,
                                       seed=1).shard(0, 1)]
    assert all(torch.equal(a, b) for a, b in zip(plain, one)) and len(plain) == len(one)
    with pytest.raises(ValueError, match="needs a seed"):
        TensorBatches(Dataset(X), batch_size=8, shuffle=True).shard(0, 2)


# -- weight averaging (ema_decay) ---------------------------------------------


class _RecordWeights(Callback):
    """The generator's weights after every optimizer step (training batches
    run on the live weights) and at every epoch end."""

    def initialize(self):
        self.steps, self.epochs = [], []
        return self

    def on_batch_end(self, net, training=False, **kwargs):
        if training:
            self.steps.append(params_of(net.module_))

    def on_epoch_end(self, net, **kwargs):
        self.epochs.append(params_of(net.module_))


def expected_average(start, steps, decay):
    average = [p.clone() for p in start]
    for t, live in enumerate(steps):
        d = min(decay, (1 + t) / (10 + t))
        average = [a * d + p * (1 - d) for a, p in zip(average, live)]
    return average


def test_ema_decay_module_holds_the_warmed_up_moving_average_after_each_epoch():
    torch.manual_seed(0)
    X = torch.randn(80, 6)
    record = _RecordWeights()
    # 15 steps: the warm-up reaches 0.5 at step 8, so both rules are used.
    net = make_net(max_epochs=3, ema_decay=0.5, callbacks=[("record", record)])
    net.initialize()
    start = params_of(net.module_)
    net.partial_fit(TrainValid(X, X[:16]))
    assert len(record.steps) == 3 * 5 and len(record.epochs) == 3
    for epoch in range(3):
        expected = expected_average(start, record.steps[:5 * (epoch + 1)], 0.5)
        for got, want in zip(record.epochs[epoch], expected):
            torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)
    # The fitted model is the average, not the last trained weights.
    assert not all(torch.equal(a, b) for a, b in
                   zip(params_of(net.module_), record.steps[-1]))
    assert "_ema" not in vars(net)  # nothing left behind for pickles


def test_ema_decay_trains_the_live_weights_and_validates_the_average():
    """Each training epoch resumes from the weights the optimizer left, not
    from the average; valid_loss is measured on the average."""
    torch.manual_seed(0)
    X = torch.randn(80, 6)
    live_record, ema_record = _RecordWeights(), _RecordWeights()
    torch.manual_seed(1)
    make_net(max_epochs=2, callbacks=[("r", live_record)]).fit(TrainValid(X))
    torch.manual_seed(1)
    ema = make_net(max_epochs=2, ema_decay=0.5, callbacks=[("r", ema_record)])
    ema.fit(TrainValid(X, X[:16]))
    assert len(live_record.steps) == len(ema_record.steps) == 2 * 5
    for a, b in zip(live_record.steps, ema_record.steps):
        for p, q in zip(a, b):
            torch.testing.assert_close(p, q)

    # valid_loss of the last epoch is the loss of the final (averaged) model.
    ema._set_training(False)
    batch = ema.validation_step((X[:16], None))
    assert ema.history[-1, "valid_loss"] == pytest.approx(batch["loss"].item(), rel=1e-5)


def test_valid_loss_con_is_the_held_out_l1_reconstruction_error():
    torch.manual_seed(0)
    X, V = torch.randn(64, 6), torch.randn(40, 6)
    net = make_net(max_epochs=1, ema_decay=0.0).fit(TrainValid(X, V))
    net.module_.eval()
    with torch.no_grad():
        x_hat, _, _ = net.module_(V)
    assert net.history[-1, "valid_loss_con"] == pytest.approx(
        float((V - x_hat).abs().mean()), rel=1e-5)
