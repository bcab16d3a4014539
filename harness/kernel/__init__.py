"""Kernel sources, configuration fragments and builds for the guest kernels."""
