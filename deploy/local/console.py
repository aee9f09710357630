"""The local stack's voice: one ``[stack]`` line per thing it does, on stdout."""


def say(message: str) -> None:
    print(f"[stack] {message}", flush=True)
