from __future__ import annotations

from pathlib import Path

import pytest

from os1.config import load_config
from os1.errors import ConfigError


def test_env_moves_home_and_overrides_file(tmp_path: Path):
    (tmp_path / "config.toml").write_text('model = "fast"\nn_ctx = 2048\n')
    config = load_config({"OS1_HOME": str(tmp_path)})
    assert (config.home, config.model, config.n_ctx) == (tmp_path, "fast", 2048)
    config = load_config({"OS1_HOME": str(tmp_path), "OS1_MODEL": "tiny"}, n_ctx=1024)
    assert (config.model, config.n_ctx) == ("tiny", 1024)


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("model = ", "not valid TOML"),
        ("n_ctx = 12", "n_ctx"),
        ("colour = 'blue'", "colour"),
    ],
)
def test_bad_config_is_one_sentence(tmp_path: Path, content: str, needle: str):
    (tmp_path / "config.toml").write_text(content)
    with pytest.raises(ConfigError) as e:
        load_config({"OS1_HOME": str(tmp_path)})
    assert needle in str(e.value) and "\n" not in str(e.value)


def test_api_key_never_in_repr_and_secret_file_must_be_private(tmp_path: Path):
    config = load_config({"OS1_HOME": str(tmp_path), "OS1_API_KEY": "sk-supersecret"})
    assert config.api_key == "sk-supersecret" and "supersecret" not in repr(config)
    secret = tmp_path / "secrets.toml"
    secret.write_text('api_key = "sk-file"')
    secret.chmod(0o644)
    with pytest.raises(ConfigError) as e:
        load_config({"OS1_HOME": str(tmp_path)})
    assert "chmod 600" in str(e.value)
    secret.chmod(0o600)
    assert load_config({"OS1_HOME": str(tmp_path)}).api_key == "sk-file"
