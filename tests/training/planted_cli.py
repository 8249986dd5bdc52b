"""The command-line arguments every CLI test on the planted store shares (its symbols, bars, target, embargo)."""

PLANTED_DATA = ["AAPL,QQQ,VIX", "--timeframe", "5m", "--target-transform", "log_return", "--embargo", "12"]


def planted(command: str, algorithm: str, *args: str) -> list[str]:
    """``command`` (train, search) on the planted store with ``algorithm`` and extra ``args``."""
    return [command, PLANTED_DATA[0], "--algorithm", algorithm, *PLANTED_DATA[1:], *args]
