"""SENTIMENT_MODEL: tiny models built here (an ONNX graph, and a HuggingFace BERT where torch
is installed), loaded from disk with nothing downloaded."""

from __future__ import annotations

import json
from pathlib import Path

import onnx
import pytest
from onnx import TensorProto, helper
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers

from monitor.config import Settings
from monitor.sentiment.model import ModelScorer, polarity_names, softmax
from monitor.sentiment.service import SentimentSetupError, load_scorer
from monitor.text import TextPipeline
from tests.test_sentiment import run

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "хорошо", "плохо", "трамп", "байден"]
# Logits each word adds, in id2label order NEGATIVE, NEUTRAL, POSITIVE.
PUSH = {"хорошо": [0.0, 0.0, 3.0], "плохо": [3.0, 0.0, 0.0]}
ID2LABEL = {"0": "NEGATIVE", "1": "NEUTRAL", "2": "POSITIVE"}


def build_onnx_model(folder: Path, id2label: dict[str, str] = ID2LABEL) -> Path:
    """A bag-of-words classifier: logits are the sum of each unmasked token's row."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = [PUSH.get(word, [0.0, 0.0, 0.0]) for word in VOCAB]
    nodes = [
        helper.make_node("Gather", ["table", "input_ids"], ["rows"]),
        helper.make_node("Cast", ["attention_mask"], ["mask"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["mask", "last"], ["mask3"]),
        helper.make_node("Mul", ["rows", "mask3"], ["kept"]),
        helper.make_node("ReduceSum", ["kept", "tokens_axis"], ["logits"], keepdims=0),
    ]
    graph = helper.make_graph(
        nodes,
        "bag_of_words",
        [
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "tokens"]),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "tokens"]),
        ],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 3])],
        initializer=[
            helper.make_tensor(
                "table", TensorProto.FLOAT, [len(VOCAB), 3], [x for row in rows for x in row]
            ),
            helper.make_tensor("last", TensorProto.INT64, [1], [2]),
            helper.make_tensor("tokens_axis", TensorProto.INT64, [1], [1]),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(folder / "model.onnx"))
    tokenizer = Tokenizer(models.WordLevel({w: i for i, w in enumerate(VOCAB)}, "[UNK]"))
    tokenizer.normalizer = normalizers.Lowercase()
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.save(str(folder / "tokenizer.json"))
    (folder / "config.json").write_text(json.dumps({"id2label": id2label}), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def onnx_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_onnx_model(tmp_path_factory.mktemp("onnx"))


@pytest.fixture(scope="module")
def onnx_scorer(onnx_folder: Path) -> ModelScorer:
    scorer = load_scorer(TextPipeline(), Settings(sentiment_model=onnx_folder))
    assert isinstance(scorer, ModelScorer)
    return scorer


@pytest.mark.parametrize(
    ("text", "label", "expected"),
    [
        ("хорошо", "positive", softmax([0, 0, 3])[2] - softmax([0, 0, 3])[0]),
        ("плохо плохо", "negative", -(softmax([6, 0, 0])[0] - softmax([6, 0, 0])[2])),
        ("хорошо плохо", "neutral", 0.0),
        ("ничего особенного", "neutral", 0.0),
        ("", "neutral", 0.0),
    ],
)
def test_onnx_model_scores_and_labels(
    onnx_scorer: ModelScorer, text: str, label: str, expected: float
) -> None:
    result = onnx_scorer.score(text)
    assert result.label == label
    assert result.score == pytest.approx(expected, abs=1e-5)


def test_onnx_batches_agree_with_single_texts(onnx_scorer: ModelScorer) -> None:
    # Padding must not change a text's result: the mask keeps [PAD] rows out.
    texts = ["хорошо", "", "плохо и ещё много других слов после", "хорошо хорошо"]
    assert onnx_scorer.score_many(texts) == [onnx_scorer.score(t) for t in texts]


def test_target_aware_model_reads_only_the_words_around_the_term(
    onnx_scorer: ModelScorer,
) -> None:
    filler = " ".join(["слово"] * 20)
    text = f"Трампа хвалят: хорошо. {filler} Байден плохо"
    assert onnx_scorer.around(text, ["трамп"]).startswith("Трампа хвалят: хорошо.")
    assert "Байден" not in onnx_scorer.around(text, ["трамп"])
    assert onnx_scorer.score(text, "Трамп").label == "positive"
    assert onnx_scorer.score(text, "Байден").label == "negative"
    assert onnx_scorer.score(text, "Путин").hits == 0


def test_model_serves_the_sentiment_command(
    onnx_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SENTIMENT_MODEL", str(onnx_folder))
    code, out, _ = run("sentiment", stdin="хорошо\nплохо\n")
    assert code == 0
    assert [json.loads(line)["label"] for line in out.splitlines()] == ["positive", "negative"]


@pytest.mark.parametrize(
    ("id2label", "mapped"),
    [
        ({0: "NEGATIVE", 1: "NEUTRAL", 2: "POSITIVE"}, {0: "negative", 1: "neutral", 2: "positive"}),
        ({0: "neutral", 1: "positive", 2: "negative", 3: "skip", 4: "speech"},
         {0: "neutral", 1: "positive", 2: "negative"}),
        ({0: "neg", 1: "pos"}, {0: "negative", 1: "positive"}),
    ],
)  # fmt: skip
def test_polarity_names(id2label: dict[int, str], mapped: dict[int, str]) -> None:
    assert polarity_names(id2label) == mapped


def test_unusable_models_are_refused_with_a_sentence(tmp_path: Path) -> None:
    pipeline = TextPipeline()
    generic = build_onnx_model(tmp_path / "generic", {"0": "LABEL_0", "1": "LABEL_1"})
    with pytest.raises(SentimentSetupError, match="does not name a positive and a negative"):
        load_scorer(pipeline, Settings(sentiment_model=generic))
    broken = build_onnx_model(tmp_path / "broken")
    (broken / "model.onnx").write_bytes(b"not a model")
    with pytest.raises(SentimentSetupError, match="not an ONNX model"):
        load_scorer(pipeline, Settings(sentiment_model=broken))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SentimentSetupError, match=r"neither an \.onnx file nor a HuggingFace"):
        load_scorer(pipeline, Settings(sentiment_model=empty))
    no_weights = tmp_path / "no_weights"
    no_weights.mkdir()
    (no_weights / "config.json").write_text("{}", encoding="utf-8")
    with pytest.raises(SentimentSetupError, match="SENTIMENT_MODEL: "):
        load_scorer(pipeline, Settings(sentiment_model=no_weights))


def test_huggingface_folder(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(7)
    config = transformers.BertConfig(
        vocab_size=len(VOCAB), hidden_size=8, num_hidden_layers=1, num_attention_heads=1,
        intermediate_size=8, max_position_embeddings=32,
        id2label={0: "negative", 1: "neutral", 2: "positive"},
        label2id={"negative": 0, "neutral": 1, "positive": 2},
    )  # fmt: skip
    model = transformers.BertForSequenceClassification(config).eval()
    (tmp_path / "vocab.txt").write_text("\n".join(VOCAB) + "\n", encoding="utf-8")
    tokenizer = transformers.BertTokenizerFast(vocab_file=str(tmp_path / "vocab.txt"))
    folder = tmp_path / "hf"
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    scorer = load_scorer(TextPipeline(), Settings(sentiment_model=folder))
    for text in ("хорошо", "плохо трамп"):
        with torch.no_grad():
            logits = model(**tokenizer(text, return_tensors="pt")).logits[0].tolist()
        negative, _, positive = softmax(logits)
        result = scorer.score(text)
        assert result.score == pytest.approx(positive - negative, abs=1e-5)
        assert result.label == ("negative", "neutral", "positive")[logits.index(max(logits))]
