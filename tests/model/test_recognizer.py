"""The recogniser end to end on the tiny model: scores, top-k, live vocabulary edits,
k-NN translation, construction from a configuration, and (on a CUDA machine) the
CUDA-graph path against eager."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from ezsr_live.errors import ModelError
from ezsr_live.model import knn
from ezsr_live.model.event_encoder import save_event_weights
from ezsr_live.model.recognizer import Recognizer, RecognizerConfig
from ezsr_live.model.vocabulary import FixedVocabulary, Vocabulary


@pytest.fixture()
def recognizer(tiny_clip) -> Recognizer:
    vocab = Vocabulary(tiny_clip.encode_text, tiny_clip.identity, "cat,dog,car,tree", "photo")
    return Recognizer(tiny_clip.model.visual, vocab, logit_scale=tiny_clip.logit_scale,
                      input_size=32, device="cpu", model_id=tiny_clip.identity, top_k=3)


def frames(n: int = 2, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, 3, 32, 32, generator=torch.Generator().manual_seed(seed))


def test_probabilities_are_softmax_of_scaled_cosines(recognizer, tiny_clip):
    x = frames()
    with torch.inference_mode():
        e = torch.nn.functional.normalize(tiny_clip.model.encode_image(x), dim=-1)
    labels = recognizer.vocabulary.matrix()
    expected = torch.softmax(tiny_clip.logit_scale * e @ labels.T, dim=-1)
    torch.testing.assert_close(recognizer.predict_proba(x), expected, rtol=1e-5, atol=1e-6)


def test_top_k_is_sorted_and_consistent_with_probabilities(recognizer):
    x = frames(3)
    probs = recognizer.predict_proba(x)
    results = recognizer.recognize(x)
    assert [len(r) for r in results] == [3, 3, 3]
    for p, preds in zip(probs, results):
        best = torch.argsort(p, descending=True)[:3]
        assert [pr.label for pr in preds] == [recognizer.labels[int(i)] for i in best]
        assert [pr.probability for pr in preds] == pytest.approx(p[best].tolist(), rel=1e-5)
    assert len(recognizer.recognize(x, k=10)[0]) == 4  # never more than the vocabulary


def test_vocabulary_edits_show_up_on_the_next_call(recognizer):
    assert recognizer.predict_proba(frames(1)).shape == (1, 4)
    recognizer.vocabulary.add("boat")
    recognizer.vocabulary.remove("cat")
    assert recognizer.predict_proba(frames(1)).shape == (1, 4)
    assert recognizer.labels == ("dog", "car", "tree", "boat")
    assert {p.label for p in recognizer.recognize(frames(1), k=4)[0]} == set(recognizer.labels)


def test_wrong_frame_shape_is_a_model_error(recognizer):
    with pytest.raises(ModelError, match=r"\(B, 3, 32, 32\)"):
        recognizer.recognize(torch.zeros(1, 3, 224, 224))
    assert len(recognizer.recognize(torch.zeros(3, 32, 32))) == 1  # one unbatched frame is fine


def test_knn_translation_changes_the_embedding_as_the_formula_says(recognizer, tiny_clip, tmp_path):
    rng = np.random.default_rng(0)
    pool_vectors = rng.standard_normal((500, tiny_clip.embed_dim)).astype(np.float32)
    pool = knn.create_pool(tmp_path / "pool", pool_vectors, tiny_clip.identity)
    x = frames(2)
    plain = recognizer.embed(x)
    recognizer.set_knn(knn.KnnTranslator(pool, k=8, tau=0.1, alpha=0.3))
    translated = recognizer.embed(x)
    xb = knn.normalise_rows(pool_vectors)
    sims = plain.numpy() @ xb.T
    idx = np.argsort(-sims, axis=1)[:, :8]
    top = np.take_along_axis(sims, idx, 1)
    w = np.exp((top - top.max(1, keepdims=True)) / 0.1)
    w /= w.sum(1, keepdims=True)
    mixed = 0.3 * plain.numpy() + 0.7 * np.einsum("bk,bkd->bd", w, xb[idx])
    np.testing.assert_allclose(translated.numpy(), mixed / np.linalg.norm(mixed, axis=1, keepdims=True), atol=1e-5)


def test_from_config_loads_event_weights_labels_and_pool(tiny_clip, tiny_model_name, tmp_path):
    weights = save_event_weights(tiny_clip.model.visual, tmp_path / "ev.safetensors", tiny_model_name, 32)
    knn.create_pool(tmp_path / "pool", np.eye(32, dtype=np.float32), f"{tiny_model_name}/random")
    cfg = RecognizerConfig(model=tiny_model_name, pretrained=None, event_weights=str(weights), device="cpu",
                           labels="cifar10", templates="photo", top_k=2, knn_pool=str(tmp_path / "pool"), knn_k=4)
    rec = Recognizer.from_config(cfg)
    assert rec.labels[0] == "airplane" and rec.knn.k == 4
    torch.testing.assert_close(rec.encoder.state_dict()["proj"], tiny_clip.model.visual.state_dict()["proj"])
    assert len(rec.recognize(frames(1))[0]) == 2


def test_from_config_refuses_a_pool_of_another_model(tiny_model_name, tmp_path):
    knn.create_pool(tmp_path / "pool", np.eye(32, dtype=np.float32), "ViT-B-32/openai")
    cfg = RecognizerConfig(model=tiny_model_name, pretrained=None, device="cpu", labels="cat,dog",
                           templates="photo", knn_pool=str(tmp_path / "pool"))
    with pytest.raises(ModelError, match="built with model ViT-B-32/openai"):
        Recognizer.from_config(cfg)


def test_set_knn_refuses_a_pool_of_another_model(recognizer, tmp_path):
    pool = knn.create_pool(tmp_path / "pool", np.eye(32, dtype=np.float32), "ViT-B-16/openai")
    with pytest.raises(ModelError, match="ViT-B-16/openai"):
        recognizer.set_knn(knn.KnnTranslator(pool))


def test_unknown_architecture_is_a_model_error():
    with pytest.raises(ModelError, match="no-such-arch"):
        Recognizer.from_config(RecognizerConfig(model="no-such-arch", pretrained=None, device="cpu"))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_graph_replay_matches_eager(tiny_model_name):
    torch.manual_seed(0)
    from ezsr_live.model.clip_loader import load_clip

    clip = load_clip(tiny_model_name, None, "cuda", "fp16")
    vocab = FixedVocabulary([f"l{i}" for i in range(20)], torch.randn(20, clip.embed_dim))
    pool = knn.DeviceKnn(torch.nn.functional.normalize(torch.randn(1000, clip.embed_dim), dim=-1).cuda().half())
    kwargs = dict(logit_scale=clip.logit_scale, input_size=32, device="cuda", knn=pool, top_k=5)
    graphed = Recognizer(clip.model.visual, vocab, cuda_graph=True, **kwargs)
    eager = Recognizer(clip.model.visual, vocab, cuda_graph=False, **kwargs)
    for seed in range(3):  # replays reuse static buffers: results must follow the input
        x = frames(1, seed)
        torch.testing.assert_close(graphed.predict_proba(x), eager.predict_proba(x), rtol=2e-3, atol=2e-3)
        assert [p.label for p in graphed.recognize(x)[0]][:2] == [p.label for p in eager.recognize(x)[0]][:2]


def test_command_line_options_build_the_config(tiny_model_name, tmp_path):
    import argparse

    from ezsr_live.cli.model_options import add_model_arguments, config_from_args

    parser = argparse.ArgumentParser()
    add_model_arguments(parser)
    args = parser.parse_args(["--model", tiny_model_name, "--pretrained", "", "--device", "cpu",
                              "--labels", "cat,dog", "--templates", "photo", "--no-cuda-graph",
                              "--knn-k", "4", "--knn-tau", "0.1", "--knn-alpha", "0.7", "--top-k", "1"])
    cfg = config_from_args(args)
    assert cfg.pretrained is None and cfg.cuda_graph is False
    assert (cfg.knn_k, cfg.knn_tau, cfg.knn_alpha, cfg.top_k) == (4, 0.1, 0.7, 1)
    rec = Recognizer.from_config(cfg)
    assert rec.labels == ("cat", "dog") and len(rec.recognize(frames(1))[0]) == 1
    with pytest.raises(SystemExit):
        parser.parse_args(["--knn-k", "0"])


def test_a_large_vocabulary_edit_is_encoded_a_slice_per_call(tiny_clip):
    vocab = Vocabulary(tiny_clip.encode_text, tiny_clip.identity, "cat,dog", "simple")
    rec = Recognizer(tiny_clip.model.visual, vocab, logit_scale=tiny_clip.logit_scale, input_size=32,
                     device="cpu", vocab_prompts_per_call=14)  # 2 labels of 7 templates per call
    rec.recognize(frames(1))
    vocab.add("car", "tree", "boat", "train", "bus")
    widths = []
    while not widths or widths[-1] != 7:
        widths.append(rec.predict_proba(frames(1)).shape[1])
    assert widths == [2, 2, 7]  # the old labels stay in use until the last slice is encoded
    assert rec.vocabulary_pending == 0 and rec.labels[-1] == "bus"
