# expect: timeout
# One repetition whose result is 8 MB: under the 16 MiB memory limit, but one step that
# could not end within the time left, so it is refused before it runs.
def handler(event, context):
    s = "x" * (8 * 1024 * 1024)
    return len(s)
