"""devlink device parameters on netdevsim.

netdevsim registers two parameters, both only in the driverinit
configuration mode (nsim_devlink_params): the generic ``max_macs`` (u32,
default 32) and the driver-specific ``test1`` (bool, default true). A
driverinit value is staged by ``param set`` and applied by the next reload;
debugfs ``max_macs``/``test1`` show what the driver actually uses. No
parameter supports the runtime or permanent modes, so those must be refused.

Reference: devlink.sh params_test.
"""

from __future__ import annotations

import pytest

from suitelib import devlink as dl

pytestmark = pytest.mark.topology("devlink-dut")


def set_param(nsim, name: str, value: str, cmode: str = "driverinit"):
    return nsim.run("dev", "param", "set", nsim.handle, "name", name, "cmode", cmode, "value", value)


def test_parameters_and_their_defaults(nsim):
    assert nsim.params() == {"max_macs": {"driverinit": 32}, "test1": {"driverinit": True}}
    assert dl.param_types(nsim.json("dev", "param", "show"), nsim.handle) == {
        "max_macs": "generic",
        "test1": "driver-specific",
    }
    assert nsim.read_knob("max_macs") == "32"
    assert nsim.read_knob("test1") == "Y"


def test_driverinit_values_are_staged_and_applied_by_reload(nsim):
    set_param(nsim, "max_macs", "16")
    set_param(nsim, "test1", "false")
    assert nsim.params() == {"max_macs": {"driverinit": 16}, "test1": {"driverinit": False}}
    # Not applied yet: the driver still runs with the old values.
    assert nsim.read_knob("max_macs") == "32"
    assert nsim.read_knob("test1") == "Y"

    nsim.reload()
    assert nsim.read_knob("max_macs") == "16"
    assert nsim.read_knob("test1") == "N"
    assert nsim.params() == {"max_macs": {"driverinit": 16}, "test1": {"driverinit": False}}


def test_staged_value_survives_a_failed_reload_and_applies_on_the_next(nsim):
    set_param(nsim, "max_macs", "8")
    with nsim.knob("fail_reload", "Y"):
        err = nsim.fails("dev", "reload", nsim.handle)
        assert err.message == "User setup the reload to fail for testing purposes", err
    nsim.reload()
    assert nsim.read_knob("max_macs") == "8"


@pytest.mark.parametrize("cmode", ["runtime", "permanent"])
def test_configuration_modes_netdevsim_lacks_are_refused(nsim, cmode):
    for name, value in (("max_macs", "16"), ("test1", "false")):
        proc = nsim.run("dev", "param", "set", nsim.handle, "name", name, "cmode", cmode, "value", value, check=False)
        assert proc.returncode != 0
        # iproute2 checks the modes the parameter reports before asking the kernel.
        assert "Configuration mode not supported" in proc.stderr, proc.stderr
    assert nsim.params() == {"max_macs": {"driverinit": 32}, "test1": {"driverinit": True}}


def test_an_unknown_parameter_is_refused_with_einval(nsim):
    err = nsim.fails("dev", "param", "set", nsim.handle, "name", "no_such_param", "cmode", "driverinit", "value", "1")
    assert err.kernel == "Invalid argument", err
    err = nsim.fails("dev", "param", "show", nsim.handle, "name", "no_such_param")
    assert err.kernel == "Invalid argument", err


@pytest.mark.parametrize(
    "name, value",
    [("test1", "8"), ("test1", "maybe"), ("max_macs", "many"), ("max_macs", str(1 << 32))],
)
def test_a_value_of_the_wrong_type_or_range_is_refused(nsim, name, value):
    err = nsim.fails("dev", "param", "set", nsim.handle, "name", name, "cmode", "driverinit", "value", value)
    assert any("is not a number or not within range" in line for line in err.other), err
    assert nsim.params() == {"max_macs": {"driverinit": 32}, "test1": {"driverinit": True}}
