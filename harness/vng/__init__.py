"""What the kernel build and the VM runner share about running virtme-ng (vng)."""
