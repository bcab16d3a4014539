"""Running tests inside virtme-ng/QEMU guests and reading what the guest kernel said."""
