"""An ordinary pytest file with no import from harness: runs in the guest as is."""

import platform


def test_kernel_release_is_the_guest_kernel():
    assert platform.release()


def test_failing_on_purpose():
    assert 1 + 1 == 3


def test_one_plus_one():
    assert 1 + 1 == 2
