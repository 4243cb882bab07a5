"""Helpers the benchmark scripts share."""
import os


def sync_file(path):
    """fdatasync `path`, so that its dirty pages are not left to the next run."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fdatasync(fd)
    finally:
        os.close(fd)


def balanced_rounds(rounds):
    """An even number of rounds (rounding up), so that alternating the order
    lets each tool go first equally often."""
    return rounds + rounds % 2
