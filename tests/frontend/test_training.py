"""Training modes: joint, exits-only on a frozen backbone, self-distillation; seeded and reproducible."""
from dataclasses import replace

import numpy as np
import pytest

from frontend.build import build_model
from frontend.graph import plan_stages
from frontend.train import train


def _accuracies(model, data):
    return [float((o.argmax(1) == data.y_test).mean()) for o in model.predict(data.x_test, verbose=0)]


@pytest.fixture(scope="module")
def short(digits_spec):
    return replace(digits_spec.training, epochs=15)


@pytest.mark.parametrize("mode", ["joint", "distill", "exits_only"])
def test_each_mode_trains_every_exit_well_above_chance(digits_spec, digits_data, short, mode):
    model = build_model(digits_spec)
    result = train(model, digits_data.x_train, digits_data.y_train, replace(short, mode=mode))
    assert result.mode == mode and np.isfinite(result.final_loss)
    assert min(_accuracies(model, digits_data)) > 0.5     # chance is 0.1


def test_exits_only_freezes_the_backbone_and_the_final_exit(digits_spec, digits_data, short, trained_digits):
    model = build_model(digits_spec)
    model.set_weights(trained_digits.get_weights())
    heads = {n for p in plan_stages(model)[:-1] for n in p.head}
    before = {l.name: [w.copy() for w in l.get_weights()] for l in model.layers if l.get_weights()}
    train(model, digits_data.x_train, digits_data.y_train, replace(short, mode="exits_only", epochs=2),
          backbone_trained=True)
    for name, weights in before.items():
        unchanged = all(np.array_equal(a, b) for a, b in zip(weights, model.get_layer(name).get_weights()))
        assert unchanged == (name not in heads), name


def test_distillation_differs_from_joint_training(digits_spec, digits_data, short):
    joint, distilled = build_model(digits_spec), build_model(digits_spec)
    train(joint, digits_data.x_train, digits_data.y_train, replace(short, mode="joint", epochs=2))
    train(distilled, digits_data.x_train, digits_data.y_train, replace(short, mode="distill", epochs=2))
    early = joint.get_layer("exit1_dense").get_weights()[0], distilled.get_layer("exit1_dense").get_weights()[0]
    assert not np.array_equal(*early)


def test_training_is_reproducible_with_the_same_seed(digits_spec, digits_data, short):
    """Augmented and on a schedule, so the shifts drawn are seeded too."""
    runs = []
    for _ in range(2):
        model = build_model(digits_spec)
        train(model, digits_data.x_train, digits_data.y_train, replace(short, epochs=2, shift=1, schedule="cosine"))
        runs.append(model.get_weights())
    assert all(np.array_equal(a, b) for a, b in zip(*runs))


def test_progress_is_reported_per_epoch(digits_spec, digits_data, short):
    seen = []
    train(build_model(digits_spec), digits_data.x_train, digits_data.y_train,
          replace(short, mode="exits_only", epochs=2), progress=lambda done, total: seen.append((done, total)))
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]   # two phases: final path, then heads


def test_shifted_images_are_whole_pixel_translations_within_the_bound():
    from frontend.train import shifted

    rng = np.random.default_rng(0)
    x = rng.integers(1, 256, size=(64, 6, 7, 2)).astype(np.float32) / 256   # no zero pixels: fill is visible
    out = shifted(x, 2, np.random.default_rng(1))
    seen = set()
    for image, moved in zip(x, out):
        matches = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)
                   if np.array_equal(moved, _translated(image, dy, dx))]
        assert len(matches) == 1
        seen.add(matches[0])
    assert len(seen) > 15                     # the 25 offsets are all drawn, not one per batch


def _translated(image, dy, dx):
    """Reference: content moved down by dy and right by dx, zeros where nothing moved in."""
    h, w = image.shape[:2]
    out = np.zeros_like(image)
    out[max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
        image[max(-dy, 0):h + min(-dy, 0), max(-dx, 0):w + min(-dx, 0)]
    return out


def test_shift_needs_image_inputs():
    from frontend.train import shifted

    with pytest.raises(ValueError, match="training.shift moves images"):
        shifted(np.zeros((4, 64), np.float32), 1, np.random.default_rng(0))


def test_cosine_schedule_all_but_stops_the_last_epoch(digits_spec, digits_data):
    """Constant rate: the last epoch moves the weights about as much as the first; cosine: far less."""
    def epoch_steps(schedule):
        model = build_model(digits_spec)
        snapshots = [np.concatenate([w.ravel() for w in model.get_weights()])]
        spec = replace(digits_spec.training, epochs=4, schedule=schedule)
        train(model, digits_data.x_train, digits_data.y_train, spec,
              progress=lambda *_: snapshots.append(np.concatenate([w.ravel() for w in model.get_weights()])))
        first, last = (np.abs(snapshots[i + 1] - snapshots[i]).sum() for i in (0, 3))
        return last / first

    assert epoch_steps("cosine") < 0.3 * epoch_steps("constant")

