# expect: timeout
# Squaring an integer: one multiplication of big integers runs in Rust without a time check,
# so the step too big for the time left is refused before it runs (docs/sandbox.md).
def handler(event, context):
    x = 3
    while True:
        x = x * x
