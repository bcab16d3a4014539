"""The checks `netharness kernel build` makes before it runs anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.kernel import build as kb
from harness.kernel.kconfig import KconfigError


def fake_tree(root: Path, version_line: str = "VERSION = 6\n") -> Path:
    (root / "arch" / "x86").mkdir(parents=True)
    (root / "Makefile").write_text(f"# SPDX\n{version_line}PATCHLEVEL = 12\n")
    (root / "Kconfig").write_text("mainmenu\n")
    return root


def test_a_directory_that_is_not_a_kernel_tree_is_named(tmp_path):
    with pytest.raises(kb.KernelBuildError, match=f"{tmp_path} is not a kernel source tree"):
        kb.check_kernel_tree(tmp_path)


def test_a_makefile_without_version_is_rejected(tmp_path):
    tree = fake_tree(tmp_path, version_line="")
    with pytest.raises(kb.KernelBuildError, match="no 'VERSION =' line"):
        kb.check_kernel_tree(tree)


def test_an_in_tree_configured_source_is_refused_with_the_fix(tmp_path):
    tree = fake_tree(tmp_path)
    (tree / ".config").write_text("CONFIG_X=y\n")
    with pytest.raises(kb.KernelBuildError, match="mrproper"):
        kb.check_kernel_tree(tree)


def test_a_clean_tree_passes(tmp_path):
    kb.check_kernel_tree(fake_tree(tmp_path))


def test_a_bad_fragment_line_fails_before_anything_runs(tmp_path):
    frag = tmp_path / "bad.config"
    frag.write_text("CONFIG_A=y\nNETDEVSIM=y\n")
    with pytest.raises(KconfigError) as err:
        kb.read_fragments([frag])
    assert f"{frag}:2:" in str(err.value) and "CONFIG_NETDEVSIM=y" in str(err.value)


def test_a_missing_fragment_is_named(tmp_path):
    with pytest.raises(kb.KernelBuildError, match="does not exist"):
        kb.read_fragments([tmp_path / "nope.config"])


def test_the_shipped_fragments_parse():
    parsed = kb.read_fragments(kb.default_fragments())
    names = {e.name for _, entries in parsed for e in entries}
    assert {"CONFIG_NETDEVSIM", "CONFIG_TCP_AO", "CONFIG_MPTCP", "CONFIG_LKDTM", "CONFIG_DEBUG_KMEMLEAK"} <= names


def test_config_hash_follows_fragment_content_and_vng_version(tmp_path):
    a = tmp_path / "a.config"
    a.write_text("CONFIG_A=y\n")
    first = kb.config_hash([a], "vng 1.0")
    assert kb.config_hash([a], "vng 1.0") == first
    assert kb.config_hash([a], "vng 1.1") != first
    a.write_text("CONFIG_A=n\n")
    assert kb.config_hash([a], "vng 1.0") != first


def test_verify_config_names_dropped_options(tmp_path):
    frag = tmp_path / "f.config"
    frag.write_text("CONFIG_NETDEVSIM=y\nCONFIG_TCP_AO=y\n")
    (tmp_path / ".config").write_text("CONFIG_NETDEVSIM=y\n# CONFIG_TCP_AO is not set\n")
    with pytest.raises(kb.KernelBuildError, match="CONFIG_TCP_AO"):
        kb.verify_config(tmp_path, kb.read_fragments([frag]))
