"""Tests for harness.kernel.kconfig on the project's fragments and real kernel ones.

tests/unit/data/kconfig/ holds verbatim copies of config fragments from the
Linux 6.12 tree (each with a "# source:" first line, itself a valid
comment), so these tests do not need the tree at CI time.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from harness.kernel.kconfig import (
    KconfigEntry,
    KconfigError,
    format_missing,
    kconfig_requirement_met,
    missing_options,
    normalise,
    parse_dotconfig,
    parse_fragment,
)

REPO = Path(__file__).resolve().parents[2]
DATA = Path(__file__).parent / "data" / "kconfig"
KERNEL_TREE = Path("/root/.cache/netharness/src/linux-source-6.12")


def fragment(name: str) -> list[KconfigEntry]:
    path = DATA / name
    return parse_fragment(path.read_text(encoding="utf-8"), str(path))


def error(text: str, filename: str = "frag.config") -> KconfigError:
    with pytest.raises(KconfigError) as info:
        parse_fragment(text, filename)
    return info.value


# --- real fragments -----------------------------------------------------------------


@pytest.mark.parametrize("name", ["images/netharness.config", "images/debug.config"])
def test_project_fragments_parse(name: str) -> None:
    path = REPO / name
    entries = parse_fragment(path.read_text(encoding="utf-8"), str(path))
    assert entries
    assert all(e.name.startswith("CONFIG_") for e in entries)
    assert len({e.name for e in entries}) == len(entries)


def test_project_fragment_values() -> None:
    netharness = {e.name: e.value for e in parse_fragment((REPO / "images/netharness.config").read_text(), "n")}
    assert netharness["CONFIG_NETDEVSIM"] == "y"
    assert netharness["CONFIG_TCP_AO"] == "y"
    debug = {e.name: e.value for e in parse_fragment((REPO / "images/debug.config").read_text(), "d")}
    assert debug["CONFIG_MAGIC_SYSRQ_DEFAULT_ENABLE"] == "0x1"
    assert debug["CONFIG_DEFAULT_HUNG_TASK_TIMEOUT"] == "60"
    assert debug["CONFIG_DEBUG_KMEMLEAK_AUTO_SCAN"] == "n"


@pytest.mark.parametrize("name", sorted(p.name for p in DATA.iterdir()))
def test_copied_fragment_cites_its_source(name: str) -> None:
    assert (DATA / name).read_text(encoding="utf-8").startswith("# source: ")


def test_selftests_net_config() -> None:
    entries = fragment("selftests_net.config")
    assert len(entries) == 109
    assert entries[0] == KconfigEntry("CONFIG_USER_NS", "y")
    assert KconfigEntry("CONFIG_BONDING", "m") in entries


def test_selftests_netdevsim_config() -> None:
    assert fragment("selftests_netdevsim.config") == [
        KconfigEntry("CONFIG_DUMMY", "y"),
        KconfigEntry("CONFIG_GENEVE", "m"),
        KconfigEntry("CONFIG_IPV6", "y"),
        KconfigEntry("CONFIG_NETDEVSIM", "m"),
        KconfigEntry("CONFIG_NET_SCH_MQPRIO", "y"),
        KconfigEntry("CONFIG_NET_SCH_MULTIQ", "y"),
        KconfigEntry("CONFIG_NET_SCH_PRIO", "y"),
        KconfigEntry("CONFIG_PSAMPLE", "y"),
        KconfigEntry("CONFIG_PTP_1588_CLOCK_MOCK", "y"),
        KconfigEntry("CONFIG_VXLAN", "m"),
    ]


def test_selftests_mptcp_and_tcp_ao_configs() -> None:
    mptcp = {e.name: e.value for e in fragment("selftests_mptcp.config")}
    assert mptcp["CONFIG_MPTCP"] == "y" and mptcp["CONFIG_INET_MPTCP_DIAG"] == "m"
    tcp_ao = {e.name: e.value for e in fragment("selftests_tcp_ao.config")}
    assert tcp_ao["CONFIG_TCP_AO"] == "y" and tcp_ao["CONFIG_VETH"] == "m"


def test_kernel_debug_config_numbers_and_not_set() -> None:
    entries = {e.name: e.value for e in fragment("kernel_debug.config")}
    assert entries["CONFIG_FRAME_WARN"] == "2048"
    assert entries["CONFIG_UBSAN_ALIGNMENT"] == "n"


@pytest.mark.skipif(not KERNEL_TREE.is_dir(), reason="Linux 6.12 source tree not unpacked")
@pytest.mark.parametrize(
    "relpath",
    [
        "tools/testing/selftests/net/config",
        "tools/testing/selftests/drivers/net/netdevsim/config",
        "tools/testing/selftests/net/mptcp/config",
        "tools/testing/selftests/net/tcp_ao/config",
        "tools/testing/selftests/net/forwarding/config",
        "kernel/configs/debug.config",
        "kernel/configs/kvm_guest.config",
    ],
)
def test_kernel_tree_fragments_parse(relpath: str) -> None:
    path = KERNEL_TREE / relpath
    assert parse_fragment(path.read_text(encoding="utf-8"), str(path))


def test_copies_match_the_kernel_tree() -> None:
    if not KERNEL_TREE.is_dir():
        pytest.skip("Linux 6.12 source tree not unpacked")
    for name in ("selftests_net.config", "selftests_netdevsim.config"):
        copy = (DATA / name).read_text(encoding="utf-8")
        source = copy.splitlines()[0].split()[2]
        assert copy.split("\n", 1)[1] == (KERNEL_TREE / source).read_text(encoding="utf-8")


# --- accepted line forms --------------------------------------------------------------


def test_accepted_forms() -> None:
    text = "\n".join(
        [
            "# a comment",
            "",
            "   ",
            "  # an indented comment is still a comment",
            "CONFIG_A=y",
            "CONFIG_B=m",
            "CONFIG_C=n",
            "# CONFIG_D is not set",
            "CONFIG_E=123",
            "CONFIG_F=-1",
            "CONFIG_G=0x1f",
            'CONFIG_H="foo bar"',
            'CONFIG_I=""',
            r'CONFIG_J="say \"hi\""',
            "CONFIG_K=y   ",
            "# CONFIG_L=y (commented out)",
        ]
    )
    assert parse_fragment(text, "f") == [
        KconfigEntry("CONFIG_A", "y"),
        KconfigEntry("CONFIG_B", "m"),
        KconfigEntry("CONFIG_C", "n"),
        KconfigEntry("CONFIG_D", "n"),
        KconfigEntry("CONFIG_E", "123"),
        KconfigEntry("CONFIG_F", "-1"),
        KconfigEntry("CONFIG_G", "0x1f"),
        KconfigEntry("CONFIG_H", '"foo bar"'),
        KconfigEntry("CONFIG_I", '""'),
        KconfigEntry("CONFIG_J", r'"say \"hi\""'),
        KconfigEntry("CONFIG_K", "y"),
    ]


def test_crlf_fragment() -> None:
    assert parse_fragment("CONFIG_A=y\r\n# CONFIG_B is not set\r\n", "f") == [
        KconfigEntry("CONFIG_A", "y"),
        KconfigEntry("CONFIG_B", "n"),
    ]


def test_empty_fragment() -> None:
    assert parse_fragment("", "f") == []
    assert parse_fragment("# only comments\n\n", "f") == []


def test_entry_renders_as_a_fragment_line() -> None:
    assert str(KconfigEntry("CONFIG_A", "y")) == "CONFIG_A=y"
    assert str(KconfigEntry("CONFIG_A", "n")) == "# CONFIG_A is not set"
    assert str(KconfigEntry("CONFIG_S", '"x"')) == 'CONFIG_S="x"'
    entries = fragment("kernel_debug.config")
    assert parse_fragment("\n".join(map(str, entries)), "roundtrip") == entries


def test_entry_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        KconfigEntry("CONFIG_A", "y").value = "m"  # type: ignore[misc]


# --- errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "message", "hint"),
    [
        ("NETDEVSIM=y", "option name must start with CONFIG_", "CONFIG_NETDEVSIM=y"),
        ("netdevsim=m", "option name must start with CONFIG_", "CONFIG_NETDEVSIM=m"),
        ("CONFIG_FOO = y", "spaces around '='", "CONFIG_FOO=y"),
        ("CONFIG_FOO= m", "spaces around '='", "CONFIG_FOO=m"),
        ("CONFIG_FOO", "option without a value", "CONFIG_FOO=y"),
        ("NETDEVSIM", "option without a value", "CONFIG_NETDEVSIM=y"),
        ("  CONFIG_FOO=y", "indented line", "CONFIG_FOO=y"),
        ("\tCONFIG_FOO=m", "indented line", "CONFIG_FOO=m"),
        ("#CONFIG_FOO is not set", "malformed 'is not set' line", "# CONFIG_FOO is not set"),
        ("#  CONFIG_FOO is not set", "malformed 'is not set' line", "# CONFIG_FOO is not set"),
        ("CONFIG_FOO is not set", "malformed 'is not set' line", "# CONFIG_FOO is not set"),
        ("CONFIG_FOO=Y", "invalid value 'Y'", "CONFIG_FOO=y"),
        ("CONFIG_FOO=yes", "invalid value 'yes'", "CONFIG_FOO=y"),
        ("CONFIG_FOO=off", "invalid value 'off'", "# CONFIG_FOO is not set"),
        ("CONFIG_FOO=y # needed by mptcp", "comment after the value", "CONFIG_FOO=y with the comment on its own line"),
        ("CONFIG_FOO=", "empty value", 'CONFIG_FOO="" for an empty string, or # CONFIG_FOO is not set'),
        ('CONFIG_FOO="abc', "invalid value", 'CONFIG_FOO="abc"'),
        ("CONFIG_FOO=some text", "invalid value", 'CONFIG_FOO="some text"'),
        ("CONFIG_FOO='abc'", "invalid value", 'CONFIG_FOO="abc"'),
        ("what is this?", "not a kconfig line", "CONFIG_NAME=y"),
    ],
)
def test_bad_line_message_and_hint(line: str, message: str, hint: str) -> None:
    err = error(line)
    assert (err.filename, err.line_no) == ("frag.config", 1)
    assert err.message.startswith(message)
    assert err.hint.startswith(hint)
    assert str(err) == f"frag.config:1: {err.message}; write instead: {err.hint}"


def test_error_str_format() -> None:
    err = error("CONFIG_A=y\nNETDEVSIM=y\n", "images/extra.config")
    assert str(err) == "images/extra.config:2: option name must start with CONFIG_; write instead: CONFIG_NETDEVSIM=y"
    assert isinstance(err, ValueError)


def test_error_line_numbers_count_comments_and_blanks() -> None:
    lines = (REPO / "images/debug.config").read_text().splitlines()
    lines.insert(9, "PROVE_LOCKING=y")
    err = error("\n".join(lines), "images/debug.config")
    assert err.line_no == 10
    assert err.hint == "CONFIG_PROVE_LOCKING=y"


def test_error_in_a_real_fragment_with_a_broken_line() -> None:
    text = (DATA / "selftests_netdevsim.config").read_text().replace("CONFIG_PSAMPLE=y", "CONFIG_PSAMPLE = y")
    err = error(text, "netdevsim/config")
    assert (err.line_no, err.hint) == (9, "CONFIG_PSAMPLE=y")


def test_duplicate_with_different_values_names_both_lines() -> None:
    text = "CONFIG_A=y\n\n# netdevsim\nCONFIG_B=m\nCONFIG_A=m\n"
    err = error(text, "x.config")
    assert err.line_no == 5
    assert "line 1" in err.message and "line 5" in err.message
    assert "'CONFIG_A=y'" in err.message and "'CONFIG_A=m'" in err.message
    assert str(err).startswith("x.config:5: CONFIG_A is set twice")


def test_duplicate_set_and_not_set() -> None:
    err = error("CONFIG_A=y\n# CONFIG_A is not set\n")
    assert err.line_no == 2
    assert "'# CONFIG_A is not set' on line 2" in err.message


def test_duplicate_with_the_same_value_is_kept_once() -> None:
    assert parse_fragment("CONFIG_A=y\nCONFIG_B=y\nCONFIG_A=y\n", "f") == [
        KconfigEntry("CONFIG_A", "y"),
        KconfigEntry("CONFIG_B", "y"),
    ]


def test_prose_comments_are_not_errors() -> None:
    assert parse_fragment("# Foo is not set here on purpose\n# this is not set\n", "f") == []


# --- .config --------------------------------------------------------------------------------


def test_parse_dotconfig_real_excerpt() -> None:
    assert parse_dotconfig((DATA / "kunit_dotconfig_uml.config").read_text()) == {
        "CONFIG_UML": "y",
        "CONFIG_MMU": "y",
        "CONFIG_MK8": "n",
        "CONFIG_TEST": "y",
        "CONFIG_EXAMPLE_TEST": "y",
    }


def test_parse_dotconfig_values_as_written_and_last_wins() -> None:
    text = 'CONFIG_A=y\nCONFIG_A=m\nCONFIG_HZ=1000\nCONFIG_S="x y"\nCONFIG_X=0x10\n# CONFIG_N is not set\n'
    assert parse_dotconfig(text) == {
        "CONFIG_A": "m",
        "CONFIG_HZ": "1000",
        "CONFIG_S": '"x y"',
        "CONFIG_X": "0x10",
        "CONFIG_N": "n",
    }


def test_parse_dotconfig_rejects_non_config_text() -> None:
    with pytest.raises(KconfigError) as info:
        parse_dotconfig("CONFIG_A=y\nmake: *** [Makefile] Error 2\n", "build/.config")
    assert (info.value.filename, info.value.line_no) == ("build/.config", 2)


# --- missing options -----------------------------------------------------------------------------


FINAL = {
    "CONFIG_Y": "y",
    "CONFIG_M": "m",
    "CONFIG_OFF": "n",
    "CONFIG_HZ": "1000",
    "CONFIG_HEX": "0x1F",
    "CONFIG_STR": '"abc"',
}


@pytest.mark.parametrize(
    ("entry", "found"),
    [
        (KconfigEntry("CONFIG_Y", "m"), "y"),
        (KconfigEntry("CONFIG_M", "y"), "m"),
        (KconfigEntry("CONFIG_ABSENT", "y"), None),
        (KconfigEntry("CONFIG_ABSENT", "m"), None),
        (KconfigEntry("CONFIG_OFF", "y"), "n"),
        (KconfigEntry("CONFIG_Y", "n"), "y"),
        (KconfigEntry("CONFIG_M", "n"), "m"),
        (KconfigEntry("CONFIG_HZ", "250"), "1000"),
        (KconfigEntry("CONFIG_STR", '"abd"'), '"abc"'),
    ],
)
def test_missing(entry: KconfigEntry, found: str | None) -> None:
    assert missing_options([entry], FINAL) == [(entry, found)]


@pytest.mark.parametrize(
    "entry",
    [
        KconfigEntry("CONFIG_Y", "y"),
        KconfigEntry("CONFIG_M", "m"),
        KconfigEntry("CONFIG_ABSENT", "n"),
        KconfigEntry("CONFIG_OFF", "n"),
        KconfigEntry("CONFIG_HZ", "1000"),
        KconfigEntry("CONFIG_HEX", "0x1f"),
        KconfigEntry("CONFIG_STR", '"abc"'),
    ],
)
def test_satisfied(entry: KconfigEntry) -> None:
    assert missing_options([entry], FINAL) == []


def test_missing_keeps_request_order() -> None:
    requested = fragment("selftests_netdevsim.config")
    final = {e.name: e.value for e in requested}
    final["CONFIG_NETDEVSIM"] = "y"  # asked for m, got y: still a difference
    del final["CONFIG_PSAMPLE"]
    final["CONFIG_GENEVE"] = "n"
    assert [(e.name, found) for e, found in missing_options(requested, final)] == [
        ("CONFIG_GENEVE", "n"),
        ("CONFIG_NETDEVSIM", "y"),
        ("CONFIG_PSAMPLE", None),
    ]


def test_project_fragment_against_a_dotconfig() -> None:
    requested = parse_fragment((REPO / "images/netharness.config").read_text(), "images/netharness.config")
    dotconfig = "\n".join(str(e) for e in requested)
    dotconfig = dotconfig.replace("CONFIG_TCP_AO=y", "# CONFIG_TCP_AO is not set")
    dotconfig = dotconfig.replace("CONFIG_NETDEVSIM=y", "CONFIG_NETDEVSIM=m")
    missing = missing_options(requested, parse_dotconfig(dotconfig))
    assert [(e.name, found) for e, found in missing] == [("CONFIG_NETDEVSIM", "m"), ("CONFIG_TCP_AO", "n")]


def test_format_missing() -> None:
    missing = missing_options(
        [
            KconfigEntry("CONFIG_NETDEVSIM", "y"),
            KconfigEntry("CONFIG_TCP_AO", "y"),
            KconfigEntry("CONFIG_MPTCP", "y"),
            KconfigEntry("CONFIG_DEBUG_KMEMLEAK_AUTO_SCAN", "n"),
        ],
        {"CONFIG_NETDEVSIM": "m", "CONFIG_MPTCP": "y", "CONFIG_DEBUG_KMEMLEAK_AUTO_SCAN": "y"},
    )
    text = format_missing(missing)
    lines = text.splitlines()
    assert lines[0].startswith("3 requested kernel options are not in the final .config")
    assert "  CONFIG_NETDEVSIM=y: found 'CONFIG_NETDEVSIM=m'" in lines
    assert "  CONFIG_TCP_AO=y: absent" in lines
    assert "  # CONFIG_DEBUG_KMEMLEAK_AUTO_SCAN is not set: found 'CONFIG_DEBUG_KMEMLEAK_AUTO_SCAN=y'" in lines
    assert "CONFIG_MPTCP" not in text
    assert "check each option's 'depends on' in Kconfig" in text
    assert "menuconfig" in text
    assert "'select'" in text


def test_format_missing_single_and_none() -> None:
    text = format_missing([(KconfigEntry("CONFIG_TCP_AO", "y"), None)])
    assert text.startswith("1 requested kernel option is not in the final .config")
    assert "'select'" not in text and "itself a module" not in text
    assert format_missing([]) == ""


# --- names and runtime requirements ------------------------------------------------------------


def test_normalise() -> None:
    assert normalise("NETDEVSIM") == "CONFIG_NETDEVSIM"
    assert normalise("CONFIG_NETDEVSIM") == "CONFIG_NETDEVSIM"
    assert normalise(" MPTCP_IPV6 ") == "CONFIG_MPTCP_IPV6"
    for bad in ("", "CONFIG_", "NET DEVSIM", "NETDEVSIM=y", "CONFIG-FOO"):
        with pytest.raises(ValueError):
            normalise(bad)


def test_kconfig_requirement_met() -> None:
    config = parse_dotconfig(
        "CONFIG_MPTCP=y\nCONFIG_VXLAN=m\n# CONFIG_TCP_AO is not set\nCONFIG_HZ=1000\n", "/proc/config.gz"
    )
    assert kconfig_requirement_met("MPTCP", config)
    assert kconfig_requirement_met("CONFIG_VXLAN", config)  # a module can be loaded
    assert kconfig_requirement_met("HZ", config)
    assert not kconfig_requirement_met("TCP_AO", config)
    assert not kconfig_requirement_met("NETDEVSIM", config)
    with pytest.raises(ValueError):
        kconfig_requirement_met("NET DEVSIM", config)
