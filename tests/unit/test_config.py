"""Precision and parallelism configuration (rtlflow.config): files, JSON form and validation."""

import pytest

from rtlflow.config import (
    DEFAULT_PRECISION,
    LayerConfig,
    ModelConfig,
    check_layer_names,
    config_from_dict,
    load_config,
)
from rtlflow.errors import RtlflowError
from rtlflow.numerics.fixed_point import FixedFormat

YAML_TEXT = """\
precision: fixed<18,8>
reuse_factor: 2
inputs:
  x: fixed<12,4>
  "onnx::Flatten_0": ufixed<10,2,RND,SAT>
layers:
  node_linear:
    weight: fixed<8,3>
    bias: ap_fixed<8,3>
    result: fixed<16,6,RND,SAT>
    accumulator: fixed<32,12>
    reuse_factor: 4
  node_sigmoid:
    table_size: 2048
    table_range: [-8, 8]
  node_softmax:
    exp_table_size: 1024
    exp_range: 16
    exp_type: ufixed<18,1>
    inv_table_size: 512
    inv_type: ufixed<18,1>
"""

TOML_TEXT = """\
precision = "fixed<18,8>"
reuse_factor = 2

[inputs]
x = "fixed<12,4>"
"onnx::Flatten_0" = "ufixed<10,2,RND,SAT>"

[layers.node_linear]
weight = "fixed<8,3>"
bias = "ap_fixed<8,3>"
result = "fixed<16,6,RND,SAT>"
accumulator = "fixed<32,12>"
reuse_factor = 4

[layers.node_sigmoid]
table_size = 2048
table_range = [-8.0, 8.0]

[layers.node_softmax]
exp_table_size = 1024
exp_range = 16.0
exp_type = "ufixed<18,1>"
inv_table_size = 512
inv_type = "ufixed<18,1>"
"""

EXPECTED = ModelConfig(
    precision=FixedFormat(18, 8),
    reuse_factor=2,
    inputs={"x": FixedFormat(12, 4), "onnx::Flatten_0": FixedFormat(10, 2, False, "RND", "SAT")},
    layers={
        "node_linear": LayerConfig(
            weight=FixedFormat(8, 3),
            bias=FixedFormat(8, 3),
            result=FixedFormat(16, 6, True, "RND", "SAT"),
            accumulator=FixedFormat(32, 12),
            reuse_factor=4,
        ),
        "node_sigmoid": LayerConfig(table_size=2048, table_range=(-8.0, 8.0)),
        "node_softmax": LayerConfig(
            exp_table_size=1024,
            exp_range=16.0,
            exp_type=FixedFormat(18, 1, signed=False),
            inv_table_size=512,
            inv_type=FixedFormat(18, 1, signed=False),
        ),
    },
)


@pytest.fixture
def yaml_file(tmp_path):
    path = tmp_path / "model.yaml"
    path.write_text(YAML_TEXT)
    return path


def test_yaml_and_toml_give_the_same_config(yaml_file, tmp_path):
    toml_file = tmp_path / "model.toml"
    toml_file.write_text(TOML_TEXT)
    yml_file = tmp_path / "model.yml"
    yml_file.write_text(YAML_TEXT)
    assert load_config(yaml_file) == EXPECTED
    assert load_config(toml_file) == EXPECTED
    assert load_config(yml_file) == EXPECTED
    assert isinstance(load_config(yaml_file).layers["node_sigmoid"].table_range, tuple)


def test_lookups_fall_back_to_defaults(yaml_file):
    config = load_config(yaml_file)
    assert config.layer("node_linear").reuse_factor == 4
    assert config.layer("not_configured") == LayerConfig()
    assert config.input_format("x") == FixedFormat(12, 4)
    assert config.input_format("y") == FixedFormat(18, 8)


def test_defaults():
    config = ModelConfig()
    assert config.precision == DEFAULT_PRECISION == FixedFormat(16, 6)
    assert (config.reuse_factor, config.inputs, config.layers) == (1, {}, {})
    assert config_from_dict({}, "c") == config


def test_empty_yaml_file_is_the_default(tmp_path):
    path = tmp_path / "empty.yaml"
    path.write_text("# nothing configured\n")
    assert load_config(path) == ModelConfig()


def test_with_overrides(yaml_file):
    config = load_config(yaml_file)
    overridden = config.with_overrides(precision=FixedFormat(10, 3), reuse_factor=8)
    assert (overridden.precision, overridden.reuse_factor) == (FixedFormat(10, 3), 8)
    assert overridden.layers == config.layers and overridden.inputs == config.inputs
    assert config.with_overrides() == config


@pytest.mark.parametrize(
    "config",
    [
        ModelConfig(),
        EXPECTED,
        ModelConfig(
            FixedFormat(8, 8, signed=False), 3, {}, {"a": LayerConfig(table_range=(-1.5, 2.25))}
        ),
        ModelConfig(layers={"t": LayerConfig(result=FixedFormat(4, -1, True, "TRN", "SAT"))}),
    ],
    ids=["default", "full", "unsigned", "negative_int_bits"],
)
def test_json_round_trip(config):
    text = config.to_json()
    assert ModelConfig.from_json(text) == config
    assert ModelConfig.from_json(text).to_json() == text


def test_from_empty_json_is_the_default():
    assert ModelConfig.from_json("") == ModelConfig()


# -------------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"precison": "fixed<16,6>"}, "precison"),
        ({"layers": {"fc": {"wieght": "fixed<8,3>"}}}, "wieght"),
        ({"precision": "fixed<16>"}, "precision"),
        ({"precision": "float32"}, "precision"),
        ({"precision": 16}, "precision"),
        ({"inputs": {"x": "fixed<8,3,FLOOR>"}}, "inputs.x"),
        ({"layers": {"fc": {"result": "fixed<0,0>"}}}, "layers.fc.result"),
        ({"reuse_factor": 0}, "reuse_factor"),
        ({"reuse_factor": -2}, "reuse_factor"),
        ({"reuse_factor": 1.5}, "reuse_factor"),
        ({"reuse_factor": True}, "reuse_factor"),
        ({"reuse_factor": "4"}, "reuse_factor"),
        ({"layers": {"fc": {"reuse_factor": 0}}}, "layers.fc.reuse_factor"),
        ({"layers": {"t": {"table_size": -1024}}}, "layers.t.table_size"),
        ({"layers": {"s": {"exp_table_size": 0}}}, "layers.s.exp_table_size"),
        ({"layers": {"s": {"inv_table_size": 2.0}}}, "layers.s.inv_table_size"),
        ({"layers": {"t": {"table_range": [8, -8]}}}, "table_range"),
        ({"layers": {"t": {"table_range": [1, 1]}}}, "table_range"),
        ({"layers": {"t": {"table_range": [-8]}}}, "table_range"),
        ({"layers": {"t": {"table_range": [-8, 0, 8]}}}, "table_range"),
        ({"layers": {"t": {"table_range": 8}}}, "table_range"),
        ({"layers": {"t": {"table_range": "-8,8"}}}, "table_range"),
        ({"layers": {"fc": 4}}, "layers.fc"),
        (["precision"], "mapping"),
    ],
)
def test_invalid_settings_are_reported_with_their_key(data, key):
    with pytest.raises(RtlflowError, match=key.replace(".", r"\.")):
        config_from_dict(data, "cfg")


@pytest.mark.parametrize(
    "data",
    [
        {"layers": {"t": {"table_range": ["a", "b"]}}},
        {"layers": {"t": {"table_range": [-8, "8"]}}},
        {"layers": {"s": {"exp_range": "sixteen"}}},
        {"inputs": ["x"]},
        {"layers": ["fc"]},
    ],
    ids=["range_strings", "range_mixed", "exp_range_string", "inputs_list", "layers_list"],
)
def test_badly_typed_values_are_rtlflow_errors(data):
    with pytest.raises(RtlflowError):
        config_from_dict(data, "cfg")


def test_file_errors(tmp_path):
    with pytest.raises(RtlflowError, match="no such configuration file"):
        load_config(tmp_path / "missing.yaml")
    json_file = tmp_path / "model.json"
    json_file.write_text("{}")
    with pytest.raises(RtlflowError, match=r"\.yaml, \.yml or \.toml"):
        load_config(json_file)
    broken_yaml = tmp_path / "broken.yaml"
    broken_yaml.write_text("precision: [fixed<16,6>\n")
    with pytest.raises(RtlflowError, match="cannot read configuration"):
        load_config(broken_yaml)
    broken_toml = tmp_path / "broken.toml"
    broken_toml.write_text("precision = fixed<16,6>\n")
    with pytest.raises(RtlflowError, match="cannot read configuration"):
        load_config(broken_toml)
    not_mapping = tmp_path / "list.yaml"
    not_mapping.write_text("- fixed<16,6>\n")
    with pytest.raises(RtlflowError, match="must be a mapping"):
        load_config(not_mapping)


def test_error_names_the_file(tmp_path):
    path = tmp_path / "model.toml"
    path.write_text('reuse_factor = 0\n')
    with pytest.raises(RtlflowError, match="model.toml: reuse_factor"):
        load_config(path)


def test_check_layer_names(yaml_file):
    config = load_config(yaml_file)
    check_layer_names(config, {"node_linear", "node_sigmoid", "node_softmax", "other"})
    with pytest.raises(RtlflowError) as info:
        check_layer_names(config, {"node_linear", "node_sigmoid", "other"})
    message = str(info.value)
    assert "['node_softmax']" in message
    assert "node_linear, node_sigmoid, other" in message
    check_layer_names(ModelConfig(), set())
