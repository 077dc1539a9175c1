from __future__ import annotations

from pathlib import Path

import pytest

from os1.errors import ModelFileError, NotFound
from os1.profiles import PROFILES, Profile, assemble, get_profile, verify_file


def test_unknown_profile():
    with pytest.raises(NotFound) as e:
        get_profile("huge")
    assert "default, fast, tiny" in str(e.value)


def test_assembly_concatenates_verifies_and_stamps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    import hashlib

    parts = [tmp_path / f"p{i}.bin" for i in range(3)]
    for i, p in enumerate(parts):
        p.write_bytes(bytes([i]) * 1000)
    blob = b"".join(p.read_bytes() for p in parts)
    profile = Profile("t", "test", "", len(blob), hashlib.sha256(blob).hexdigest(), "x", "y", 3)
    monkeypatch.setattr(Profile, "chunk_paths", lambda self: parts)
    out = assemble(profile, tmp_path / "cache")
    assert out.read_bytes() == blob
    assert out.with_name(out.name + ".verified").exists()
    assert assemble(profile, tmp_path / "cache") == out  # second call: stamp hit


def test_corrupt_chunk_is_refused_and_leaves_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    parts = [tmp_path / "a.bin"]
    parts[0].write_bytes(b"x" * 100)
    profile = Profile("t", "test", "", 100, "0" * 64, "x", "y", 1)
    monkeypatch.setattr(Profile, "chunk_paths", lambda self: parts)
    with pytest.raises(ModelFileError) as e:
        assemble(profile, tmp_path / "cache")
    assert "sha256" in str(e.value)
    assert list((tmp_path / "cache").iterdir()) == []


def test_verify_file_checks_size_then_hash(tmp_path: Path):
    f = tmp_path / "m.gguf"
    f.write_bytes(b"GGUF" + b"\0" * 10)
    with pytest.raises(ModelFileError, match="bytes but should be"):
        verify_file(f, 99, "0" * 64)
    with pytest.raises(ModelFileError, match="corrupt"):
        verify_file(f, 14, "0" * 64)


def test_profiles_pin_sizes_and_hashes():
    for p in PROFILES.values():
        assert p.size > 10_000_000 and len(p.sha256) == 64
