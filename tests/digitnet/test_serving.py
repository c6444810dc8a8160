"""The project's side of the model server: `load_predictor` answers rows as the evaluate stage predicts them."""

from dataclasses import replace

import pytest

from digitnet.errors import UserFacingError
from digitnet.model import load_model, save_model
from digitnet.predict import predict
from digitnet.serving import load_predictor, select_device
from digitnet.train import train


def test_the_predictor_loads_a_model_folder_and_answers_as_predict_does(
    split_tensors, data_split, preprocessor, tiny_train_config, spec_for, tmp_path
):
    config = replace(tiny_train_config, epochs=1)
    result = train(config, split_tensors.train, split_tensors.val, spec=spec_for(config))
    save_model(result.model, result.spec, preprocessor, tmp_path / "model" / "model.pt")
    predictor = load_predictor(tmp_path / "model", device="cpu")
    rows = data_split.test.head(16)
    assert predictor.device == "cpu"
    assert predictor(rows).equals(predict(load_model(tmp_path / "model" / "model.pt"), rows))
    assert load_predictor(tmp_path / "model" / "model.pt", device="auto")(rows).equals(predictor(rows))


def test_serving_on_cuda_without_a_device_says_so(monkeypatch):
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    with pytest.raises(UserFacingError, match=r"^serving on 'cuda' was asked for, but no CUDA device is available$"):
        select_device("cuda")
    assert str(select_device("auto")) == "cpu"
